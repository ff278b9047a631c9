"""``link_names`` through ``slack_sdk``: a bot's ``@name``, ``@handle``, ``@here`` and
``#channel`` become Slack's markup, so they mention and link as a person's client would
have written them; a private channel the bot cannot see stays as text."""

from __future__ import annotations


def test_a_bots_names_become_mentions_and_links(server):
    alice = server.user("ln-alice")
    bot = server.user("ln-bot", bot=True)
    web = server.client(alice.token)
    room = web.conversations_create(name="ln-room")["channel"]["id"]
    web.conversations_create(name="ln-hidden", is_private=True)  # alice's; the bot's not
    web.conversations_invite(channel=room, users=bot.user_id)
    group = web.usergroups_create(name="Responders", handle="ln-oncall")["usergroup"]["id"]
    bot_web = server.client(bot.token)
    text = "@ln-alice, @ln-oncall and @here: see #ln-room, not #ln-hidden. `@ln-alice`"
    posted = bot_web.chat_postMessage(channel=room, text=text, link_names=True)
    assert posted["message"]["text"] == (
        f"<@{alice.user_id}>, <!subteam^{group}|@ln-oncall> and <!here>: see "
        f"<#{room}|ln-room>, not #ln-hidden. `@ln-alice`"
    )
    plain = bot_web.chat_postMessage(channel=room, text="@ln-alice as written")
    assert plain["message"]["text"] == "@ln-alice as written"
    edited = bot_web.chat_update(
        channel=room, ts=plain["ts"], text="now @ln-alice", link_names=True
    )
    assert edited["text"] == f"now <@{alice.user_id}>"
