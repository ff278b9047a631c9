"""Private channels are invisible to everyone outside them, on every path.

Three kinds of outsider face a private channel of workspace A: a non-member of A, a
member of A who has left it, and a user of workspace B (who also must not see A's public
channels). Every Web API method that takes a channel answers them ``channel_not_found``,
exactly as for a channel that does not exist, and no response body or WebSocket frame
they receive carries the channel's id, name, texts or timestamps, while the members
post, reply, edit, react, type, invite, leave and delete.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field

import pytest
from slack_sdk.errors import SlackApiError

from parley import admin
from tests.helpers import WsClient

_n = itertools.count()


@dataclass
class World:
    member: object  # admin.Credentials of the channel's creator
    member2: object  # another member: watches the channel's events
    nonmember: object  # same workspace, never in the channel
    leaver: object  # was in the channel, left it
    other_team: object  # a user of workspace B
    joiner: object  # of workspace A, invited during the WebSocket scenario
    private: str  # the private channel's id
    public: str  # a public channel of workspace A (nonmember is in it)
    ts: str  # a message in the private channel
    thread_ts: str  # a thread parent in the private channel
    secrets: set[str] = field(default_factory=set)

    def outsiders(self) -> dict[str, object]:
        return {"nonmember": self.nonmember, "leaver": self.leaver, "other": self.other_team}


def call(server, creds, method: str, args: dict) -> tuple[dict, str]:
    """``method`` as ``creds``: the response's data, ok or not, and its body as text."""
    client = server.client(creds.token)
    try:
        data = client.api_call(method, json=args).data
    except SlackApiError as exc:
        data = exc.response.data
    return data, json.dumps(data)


def assert_nothing_of(world: World, text: str, where: str) -> None:
    leaked = sorted(s for s in world.secrets if s in text)
    assert not leaked, f"{where} reveals {leaked}: {text[:500]}"


@pytest.fixture(scope="module")
def world(server) -> World:
    tag = next(_n)
    team_a = admin.create_workspace(server.settings, f"leaks-a-{tag}")
    team_b = admin.create_workspace(server.settings, f"leaks-b-{tag}")

    def user(name: str, team) -> object:
        return server.user(f"{name}-{tag}", team_id=team.id)

    member, member2 = user("member", team_a), user("member2", team_a)
    nonmember, leaver = user("nonmember", team_a), user("leaver", team_a)
    joiner, other_team = user("joiner", team_a), user("other", team_b)
    m = server.client(member.token)
    name = f"hush-{tag}-zq"
    private = m.conversations_create(name=name, is_private=True)["channel"]["id"]
    m.conversations_invite(channel=private, users=f"{member2.user_id},{leaver.user_id}")
    public_name = f"open-{tag}-zq"
    public = m.conversations_create(name=public_name)["channel"]["id"]
    server.client(nonmember.token).conversations_join(channel=public)
    # markers long enough that no random ticket or token contains one by chance (a
    # three-letter marker once turned up inside an rtm.connect ticket)
    first = m.chat_postMessage(channel=private, text="the secret plan qzsecretmark1")
    parent = m.chat_postMessage(channel=private, text="a secret thread qzsecretmark2")
    reply = m.chat_postMessage(
        channel=private, text="a secret reply qzsecretmark3", thread_ts=parent["ts"]
    )
    m.reactions_add(channel=private, timestamp=first["ts"], name="eyes")
    server.client(leaver.token).conversations_leave(channel=private)
    secrets = {
        private,
        name,
        "qzsecretmark1",
        "qzsecretmark2",
        "qzsecretmark3",
        first["ts"],
        parent["ts"],
        reply["ts"],
    }
    return World(
        member=member,
        member2=member2,
        nonmember=nonmember,
        leaver=leaver,
        other_team=other_team,
        joiner=joiner,
        private=private,
        public=public,
        ts=first["ts"],
        thread_ts=parent["ts"],
        secrets=secrets,
    )


#: Every Web API method that takes a channel, with the other arguments it needs.
#: ``@ts``/``@thread``/``@self`` are replaced with the world's values.
CHANNEL_METHODS: list[tuple[str, dict]] = [
    ("conversations.info", {}),
    ("conversations.info", {"include_num_members": True}),
    ("conversations.history", {}),
    ("conversations.history", {"oldest": "0", "inclusive": True, "limit": 1}),
    ("conversations.replies", {"ts": "@thread"}),
    ("conversations.replies", {"ts": "@ts"}),
    ("conversations.members", {}),
    ("conversations.join", {}),
    ("conversations.leave", {}),
    ("conversations.invite", {"users": "@self"}),
    ("conversations.invite", {"users": "@member"}),
    ("conversations.archive", {}),
    ("conversations.unarchive", {}),
    ("conversations.mark", {"ts": "@ts"}),
    ("conversations.setTopic", {"topic": "ours now"}),
    ("conversations.setPurpose", {"purpose": "ours now"}),
    ("conversations.rename", {"name": "taken-over"}),
    ("conversations.kick", {"user": "@member"}),
    ("chat.postMessage", {"text": "let me in"}),
    ("chat.postMessage", {"text": "a reply", "thread_ts": "@thread"}),
    ("chat.postEphemeral", {"user": "@member", "text": "let me whisper"}),
    ("chat.postEphemeral", {"user": "@self", "text": "to myself"}),
    ("chat.update", {"ts": "@ts", "text": "rewritten"}),
    ("chat.delete", {"ts": "@ts"}),
    ("chat.getPermalink", {"message_ts": "@ts"}),
    ("chat.scheduleMessage", {"text": "later", "post_at": "4102444800"}),
    ("chat.command", {"command": "/nosuch", "text": "run it here"}),
    ("chat.action", {"ts": "@ts", "action_id": "approve"}),
    ("reactions.add", {"timestamp": "@ts", "name": "thumbsup"}),
    ("reactions.remove", {"timestamp": "@ts", "name": "eyes"}),
    ("reactions.get", {"timestamp": "@ts"}),
    ("pins.add", {"timestamp": "@ts"}),
    ("pins.remove", {"timestamp": "@ts"}),
    ("pins.list", {}),
]


def resolve(world: World, creds, args: dict) -> dict:
    values = {
        "@ts": world.ts,
        "@thread": world.thread_ts,
        "@self": creds.user_id,
        "@member": world.member.user_id,
    }
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in args.items()}


@pytest.mark.parametrize("who", ["nonmember", "leaver", "other"])
@pytest.mark.parametrize(
    ("method", "args"),
    CHANNEL_METHODS,
    ids=[f"{m}-{i}" for i, (m, _) in enumerate(CHANNEL_METHODS)],
)
def test_every_channel_method_answers_channel_not_found(server, world, who, method, args):
    creds = world.outsiders()[who]
    data, body = call(
        server, creds, method, {"channel": world.private, **resolve(world, creds, args)}
    )
    assert data == {"ok": False, "error": "channel_not_found"}, body
    assert_nothing_of(world, body, f"{method} as {who}")


@pytest.mark.parametrize(("method", "args"), CHANNEL_METHODS)
def test_another_workspace_cannot_reach_a_public_channel_either(server, world, method, args):
    creds = world.other_team
    data, body = call(
        server, creds, method, {"channel": world.public, **resolve(world, creds, args)}
    )
    assert data == {"ok": False, "error": "channel_not_found"}, body
    assert world.public not in body


def test_a_missing_channel_and_a_private_one_answer_the_same(server, world):
    """The control: what an outsider gets for the private channel is byte for byte what
    anyone gets for an id that names no channel."""
    missing = "C" + "Z" * (len(world.private) - 1)
    for method, args in CHANNEL_METHODS:
        creds = world.nonmember
        resolved = resolve(world, creds, args)
        hidden, _ = call(server, creds, method, {"channel": world.private, **resolved})
        absent, _ = call(server, creds, method, {"channel": missing, **resolved})
        assert hidden == absent, method


@pytest.mark.parametrize("who", ["nonmember", "leaver", "other"])
def test_a_members_conversations_do_not_show_it_to_outsiders(server, world, who):
    creds = world.outsiders()[who]
    data, body = call(
        server,
        creds,
        "users.conversations",
        {"user": world.member.user_id, "types": "public_channel,private_channel,im"},
    )
    if who == "other":  # another workspace's user is no user here
        assert data == {"ok": False, "error": "user_not_found"}, body
    assert_nothing_of(world, body, f"users.conversations as {who}")
    shown, _ = call(
        server,
        world.member2,
        "users.conversations",
        {"user": world.member.user_id, "types": "private_channel"},
    )
    assert world.private in {c["id"] for c in shown["channels"]}  # not vacuous


def test_members_still_see_it(server, world):
    """The matrix is not vacuous: for a member every read works."""
    m = server.client(world.member2.token)
    assert m.conversations_info(channel=world.private)["channel"]["id"] == world.private
    texts = [x["text"] for x in m.conversations_history(channel=world.private)["messages"]]
    assert "the secret plan qzsecretmark1" in texts
    replies = m.conversations_replies(channel=world.private, ts=world.thread_ts)["messages"]
    assert [x["text"] for x in replies] == [
        "a secret thread qzsecretmark2",
        "a secret reply qzsecretmark3",
    ]
    got = m.reactions_get(channel=world.private, timestamp=world.ts)["message"]["reactions"]
    assert got[0]["name"] == "eyes"


@pytest.mark.parametrize("who", ["nonmember", "leaver", "other"])
def test_lists_leave_it_out(server, world, who):
    creds = world.outsiders()[who]
    client = server.client(creds.token)
    for types in ["public_channel,private_channel", "private_channel", "public_channel", None]:
        for exclude_archived in (False, True):
            args = {"limit": 2, "exclude_archived": exclude_archived}
            if types:
                args["types"] = types
            for page in client.conversations_list(**args):
                assert_nothing_of(world, json.dumps(page.data), f"conversations.list as {who}")
    for method, args in [("users.list", {}), ("users.info", {"user": world.member.user_id})]:
        _, body = call(server, creds, method, args)
        assert_nothing_of(world, body, f"{method} as {who}")


def test_leaving_takes_access_away_at_once(server, world):
    """A read just before the leave warms the membership cache; the next read, right
    after the leave, already answers ``channel_not_found``."""
    tag = next(_n)
    m = server.client(world.member.token)
    ch = m.conversations_create(name=f"brief-{tag}", is_private=True)["channel"]["id"]
    m.conversations_invite(channel=ch, users=world.joiner.user_id)
    j = server.client(world.joiner.token)
    assert j.conversations_history(channel=ch)["ok"]
    j.conversations_leave(channel=ch)
    for method, args in [
        ("conversations.history", {}),
        ("conversations.info", {}),
        ("chat.postMessage", {"text": "still here?"}),
        ("conversations.join", {}),
    ]:
        data, _ = call(server, world.joiner, method, {"channel": ch, **args})
        assert data == {"ok": False, "error": "channel_not_found"}, method
    listed = [c["id"] for c in j.conversations_list(types="private_channel")["channels"]]
    assert ch not in listed


# -- the gateway -----------------------------------------------------------------------------


def drained(client: WsClient) -> list[dict]:
    frames = []
    while not client.frames.empty():
        frames.append(client.frames.get_nowait())
    return frames


async def barrier(client: WsClient, ident: int) -> list[dict]:
    """Every frame ``client`` received up to the pong for ``ident``: its outbox is written
    in order, so anything delivered to it before the ping was sent comes first."""
    client.send({"type": "ping", "id": ident})
    return await client.until(type="pong", reply_to=ident)


def test_websocket_outsiders_receive_nothing_of_it(server, world):
    w = world
    m = server.client(w.member.token)

    async def scenario() -> dict[str, list[dict]]:
        urls = {
            who: server.client(creds.token).rtm_connect()["url"]
            for who, creds in w.outsiders().items()
        }
        outsiders = {who: await WsClient.open(url) for who, url in urls.items()}
        watcher = await WsClient.open(server.client(w.member2.token).rtm_connect()["url"])
        typist = await WsClient.open(m.rtm_connect()["url"])
        for client in [*outsiders.values(), watcher, typist]:
            await client.next(type="hello")
        seen: dict[str, list[dict]] = {who: [] for who in outsiders}

        # outsiders try the channel over the socket themselves
        for i, client in enumerate(outsiders.values()):
            client.send({"id": 100 + i, "type": "message", "channel": w.private, "text": "hi"})
            nack = await client.next(reply_to=100 + i)
            assert nack["ok"] is False and nack["error"]["code"] == "channel_not_found"
            client.send({"type": "typing", "channel": w.private})
            client.send({"type": "presence_sub", "ids": [w.member.user_id]})
            client.send({"type": "presence_query", "ids": [w.member.user_id]})

        # the members do everything there is to do
        posted = m.chat_postMessage(channel=w.private, text="live secret qzsecretmark4")
        reply = m.chat_postMessage(
            channel=w.private,
            text="live reply qzsecretmark5",
            thread_ts=w.thread_ts,
            reply_broadcast=True,
        )
        w.secrets |= {"qzsecretmark4", "qzsecretmark5", posted["ts"], reply["ts"]}
        m.chat_update(channel=w.private, ts=posted["ts"], text="live secret edited qzsecretmark6")
        m.chat_postEphemeral(channel=w.private, user=w.member2.user_id, text="qzsecretmark7")
        m.reactions_add(channel=w.private, timestamp=posted["ts"], name="tada")
        m.reactions_remove(channel=w.private, timestamp=posted["ts"], name="tada")
        m.conversations_invite(channel=w.private, users=w.joiner.user_id)
        server.client(w.joiner.token).conversations_leave(channel=w.private)
        m.chat_delete(channel=w.private, ts=reply["ts"])
        hidden_name = f"quiet-{next(_n)}-zq"
        other = m.conversations_create(name=hidden_name, is_private=True)["channel"]["id"]
        w.secrets |= {hidden_name, other, "qzsecretmark6", "qzsecretmark7"}
        m.conversations_archive(channel=other)
        typist.send({"type": "typing", "channel": w.private})  # published last

        # the watching member saw it all, in channel order, ending with the typing
        got = await watcher.until(type="user_typing", channel=w.private)
        typists = [f["user"] for f in got if f.get("type") == "user_typing"]
        assert typists == [w.member.user_id], "an outsider's typing reached the channel"
        kinds = {f.get("subtype") or f.get("type") for f in got if f.get("channel") == w.private}
        assert {"message", "message_changed", "message_deleted", "reaction_added"} <= kinds
        assert {"member_joined_channel", "member_left_channel"} <= kinds
        whispers = [f for f in got if f.get("is_ephemeral")]
        assert [f["text"] for f in whispers] == ["qzsecretmark7"], "the whisper missed its reader"

        # whatever reached the outsiders came before their pongs
        for i, (who, client) in enumerate(outsiders.items()):
            seen[who] = await barrier(client, 900 + i)
        for client in [*outsiders.values(), watcher, typist]:
            client.close()
        return seen

    seen = asyncio.run(scenario())
    for who, frames in seen.items():
        assert_nothing_of(w, json.dumps(frames), f"the WebSocket of {who}")
    other_team = seen["other"]
    presence = [f for f in other_team if f.get("type") == "presence_change"]
    assert presence and all(f["presence"] == "away" for f in presence)  # never crosses teams


def test_resume_naming_it_replays_nothing(server, world):
    async def scenario() -> dict[str, tuple[dict, list[dict]]]:
        out = {}
        for who, creds in world.outsiders().items():
            connect, body = call(
                server, creds, "rtm.connect", {"resume": json.dumps({world.private: 0})}
            )
            assert connect["ok"], body
            assert_nothing_of(world, body, f"rtm.connect as {who}")
            client = await WsClient.open(connect["url"])
            frames = await client.until(type="resume_done")
            frames += await barrier(client, 1)
            client.close()
            out[who] = frames
        return out

    for who, frames in asyncio.run(scenario()).items():
        done = next(f for f in frames if f.get("type") == "resume_done")
        assert done["channels"] == {}, who
        assert not [f for f in frames if f.get("type") in ("message", "resume_gap")], who
        assert_nothing_of(world, json.dumps(frames), f"the resumed WebSocket of {who}")


def test_a_leaver_s_open_socket_goes_quiet_at_the_leave(server, world):
    tag = next(_n)
    m = server.client(world.member.token)
    ch = m.conversations_create(name=f"drift-{tag}", is_private=True)["channel"]["id"]
    m.conversations_invite(channel=ch, users=world.joiner.user_id)
    j = server.client(world.joiner.token)

    async def scenario() -> list[dict]:
        client = await WsClient.open(j.rtm_connect()["url"])
        await client.next(type="hello")
        m.chat_postMessage(channel=ch, text="before the leave")
        await client.next(type="message", channel=ch)
        j.conversations_leave(channel=ch)
        await client.next(type="member_left_channel", channel=ch)
        m.chat_postMessage(channel=ch, text="after the leave zq7")
        ts = m.chat_postMessage(channel=ch, text="and more zq8")["ts"]
        m.reactions_add(channel=ch, timestamp=ts, name="wave")
        watcher = await WsClient.open(m.rtm_connect()["url"])  # the member's own view
        await watcher.next(type="hello")
        m.chat_update(channel=ch, ts=ts, text="edited zq9")
        await watcher.next(channel=ch, subtype="message_changed")
        frames = await barrier(client, 5)
        client.close()
        watcher.close()
        return frames

    frames = asyncio.run(scenario())
    text = json.dumps(frames)
    assert ch not in text and "zq7" not in text and "zq8" not in text and "zq9" not in text
