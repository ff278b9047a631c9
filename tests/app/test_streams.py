"""Streamed messages (``chat.startStream``, ``appendStream``, ``stopStream``;
:mod:`parley.streams`) through slack_sdk's own ``chat_stream()`` helper and Bolt's
``say_stream``, seen growing on a person's real WebSocket, with their errors."""

from __future__ import annotations

import asyncio
import itertools

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.models.messages.chunk import PlanUpdateChunk, TaskUpdateChunk

from tests.helpers import RawClient, RunningServer, bolt_over_socket_mode, error_of
from tests.subscriber import wait_for

_n = itertools.count()


def room(srv: RunningServer):
    """A person, a bot with an app-level token, and a channel both are in."""
    n = next(_n)
    person = srv.user(f"stream-person-{n}")
    bot = srv.user(f"stream-bot-{n}", bot=True, app_token=True)
    web = srv.client(person.token)
    channel = web.conversations_create(name=f"stream-{n}")["channel"]["id"]
    web.conversations_invite(channel=channel, users=bot.user_id)
    return person, bot, web, srv.client(bot.token), channel


def test_slack_sdks_chat_stream_grows_a_reply_everyone_sees(server):
    """``client.chat_stream()``: text buffered and flushed as chunks, tasks and a plan,
    then stopped with blocks; the person's connection hears the reply posted in the
    thread and changed at each flush, its text growing, never marked edited; the thread
    then holds it whole."""
    person, bot, web, app_web, channel = room(server)
    question = web.chat_postMessage(channel=channel, text="what changed?")["ts"]
    url = web.rtm_connect()["url"]

    async def scenario() -> list[dict]:
        client = await RawClient.open(url)

        def stream() -> str:
            s = app_web.chat_stream(
                channel=channel,
                thread_ts=question,
                recipient_team_id=person.team_id,
                recipient_user_id=person.user_id,
                buffer_size=12,
            )
            assert s.append(markdown_text="Looking") is None  # buffered
            s.append(markdown_text=" into **it**")  # flushed: chat.startStream
            s.append(chunks=[PlanUpdateChunk(title="Checking the release")])
            s.append(chunks=[TaskUpdateChunk(id="t1", title="Read the log", status="in_progress")])
            s.append(
                chunks=[
                    TaskUpdateChunk(
                        id="t1", title="Read the log", status="complete", details="3 commits"
                    )
                ]
            )
            section = {"type": "section", "text": {"type": "mrkdwn", "text": "*v2.1*"}}
            s.stop(markdown_text=". Done.", blocks=[section])
            return s.ts

        ts = await asyncio.to_thread(stream)
        frames = []
        while True:
            frame = await client.next(timeout=10, type="message", channel=channel)
            message = frame.get("message", frame)
            if message.get("ts") != ts:
                continue
            frames.append(frame)
            if message.get("stream", {}).get("state") == "stopped":
                break
        client.close()
        return ts, frames

    ts, frames = asyncio.run(scenario())
    posted, *changed = frames
    assert posted["thread_ts"] == question and posted["text"] == "Looking into **it**"
    assert posted["stream"]["state"] == "streaming" and posted["bot_id"]
    assert [f["subtype"] for f in changed] == ["message_changed"] * 4
    final = changed[-1]["message"]
    assert final["text"] == "Looking into **it**. Done." and "edited" not in final
    stream = final["stream"]
    assert stream["state"] == "stopped" and stream["plan"] == "Checking the release"
    assert stream["recipient_user_id"] == person.user_id
    assert stream["tasks"] == [
        {"id": "t1", "title": "Read the log", "status": "complete", "details": "3 commits"}
    ]
    assert [b["type"] for b in final["blocks"]] == ["section"]
    assert [f["message"]["stream"]["tasks"][0]["status"] for f in changed[1:3]] == [
        "in_progress",
        "complete",
    ]
    replies = web.conversations_replies(channel=channel, ts=question)["messages"]
    assert [m["text"] for m in replies] == ["what changed?", "Looking into **it**. Done."]
    # stopped: it takes no more
    more = app_web.chat_appendStream
    assert error_of(more, channel=channel, ts=ts, markdown_text="x") == (
        "message_not_in_streaming_state"
    )
    assert error_of(app_web.chat_stopStream, channel=channel, ts=ts) == (
        "message_not_in_streaming_state"
    )


def test_a_streams_refusals(server):
    """A person's token, a stream to a channel without the person it answers, one of
    another workspace's, chunks of no known kind, another app's stream, a message that
    never streamed, nothing to append; in a direct message no recipient is needed."""
    person, bot, web, app_web, channel = room(server)
    other = server.client(server.user(f"stream-other-{next(_n)}", bot=True).token)
    web.conversations_invite(channel=channel, users=other.auth_test()["user_id"])
    start = app_web.chat_startStream
    assert error_of(web.chat_startStream, channel=channel, thread_ts="1.0") == (
        "not_allowed_token_type"
    )
    question = web.chat_postMessage(channel=channel, text="hi")["ts"]
    ok = {"recipient_team_id": person.team_id, "recipient_user_id": person.user_id}
    assert error_of(start, channel=channel, thread_ts=question) == "missing_recipient_user_id"
    assert (
        error_of(start, channel=channel, thread_ts=question, recipient_user_id=person.user_id)
        == "missing_recipient_team_id"
    )
    wrong_team = {**ok, "recipient_team_id": "T0NOPE"}
    assert error_of(start, channel=channel, thread_ts=question, **wrong_team) == "team_not_found"
    bad = [{"type": "video", "url": "x"}]
    assert error_of(start, channel=channel, thread_ts=question, chunks=bad, **ok) == (
        "invalid_chunks"
    )
    bad_task = [{"type": "task_update", "id": "t", "status": "sleeping"}]
    assert error_of(start, channel=channel, thread_ts=question, chunks=bad_task, **ok) == (
        "invalid_chunks"
    )
    too_long = "x" * 12_001
    assert error_of(start, channel=channel, thread_ts=question, markdown_text=too_long, **ok) == (
        "msg_too_long"
    )
    ts = start(channel=channel, thread_ts=question, markdown_text="on it", **ok)["ts"]
    assert error_of(other.chat_appendStream, channel=channel, ts=ts, markdown_text="x") == (
        "cant_update_message"
    )
    assert error_of(app_web.chat_appendStream, channel=channel, ts=ts) == "no_text"
    plain = app_web.chat_postMessage(channel=channel, text="plain")["ts"]
    assert error_of(app_web.chat_appendStream, channel=channel, ts=plain, markdown_text="x") == (
        "message_not_in_streaming_state"
    )
    assert error_of(
        app_web.chat_appendStream, channel=channel, ts="1.000001", markdown_text="x"
    ) == ("message_not_found")
    # nothing the refusals tried was written: the stream says what it said
    assert app_web.chat_stopStream(channel=channel, ts=ts)["message"]["text"] == "on it"
    dm = app_web.conversations_open(users=person.user_id)["channel"]["id"]
    asked = web.chat_postMessage(channel=dm, text="psst")["ts"]
    in_dm = start(channel=dm, thread_ts=asked, markdown_text="yes?")
    assert in_dm["ok"] and in_dm["channel"] == dm


def test_a_bolt_app_answers_a_mention_with_say_stream(server):
    """Bolt's ``set_status`` then ``say_stream`` (slack_sdk's ChatStream underneath)
    answering an ``app_mention`` over Socket Mode, in the mention's thread: the person's
    connection hears the status (Parley's ``assistant_thread_status``), then the
    answer."""
    person, bot, web, app_web, channel = room(server)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    url = web.rtm_connect()["url"]

    @app.event("app_mention")
    def answer(set_status, say_stream):
        set_status("is thinking…", loading_messages=["Reading", "Writing"])
        stream = say_stream(buffer_size=1)
        for word in ("Streaming ", "from ", "Bolt"):
            stream.append(markdown_text=word)
        stream.stop()

    async def heard() -> tuple[str, list[dict]]:
        client = await RawClient.open(url)
        text = f"<@{bot.user_id}> talk to me"
        asked = (await asyncio.to_thread(web.chat_postMessage, channel=channel, text=text))["ts"]
        frames = []
        while not frames or frames[-1].get("type") != "message" or frames[-1]["ts"] == asked:
            frames.append(await client.next(timeout=15, channel=channel))
        client.close()
        return asked, frames

    with bolt_over_socket_mode(app, bot.app_token):
        asked, frames = asyncio.run(heard())

        def answered() -> list[dict]:
            replies = web.conversations_replies(channel=channel, ts=asked)["messages"][1:]
            return [m for m in replies if m.get("stream", {}).get("state") == "stopped"]

        wait_for(answered, 15, "the streamed answer")
    status, started = frames[-2:]
    assert status == {
        "type": "assistant_thread_status",
        "channel": channel,
        "thread_ts": asked,
        "user": bot.user_id,
        "status": "is thinking…",
        "loading_messages": ["Reading", "Writing"],
        "event_ts": status["event_ts"],
    }
    assert started["thread_ts"] == asked and started["user"] == bot.user_id
    (reply,) = answered()
    assert reply["text"] == "Streaming from Bolt" and reply["user"] == bot.user_id
    assert reply["stream"]["recipient_user_id"] == person.user_id
    set_status = app_web.assistant_threads_setStatus
    assert error_of(
        web.assistant_threads_setStatus, channel_id=channel, thread_ts=asked, status="x"
    ) == ("not_allowed_token_type")
    assert error_of(set_status, channel_id=channel, thread_ts="1.000001", status="x") == (
        "message_not_found"
    )
    assert error_of(set_status, channel_id=channel, thread_ts=asked, status="x" * 101) == (
        "invalid_arguments"
    )
    assert set_status(channel_id=channel, thread_ts=asked, status="")["ok"]  # cleared


def test_markdown_text_is_kept_as_a_markdown_block(server):
    """``markdown_text`` on ``chat.postMessage``, ``chat.update`` and
    ``chat.postEphemeral`` (slack_sdk's argument): the text, and a ``markdown`` block
    holding it, as Slack keeps it; never with ``text`` or ``blocks``, at most 12,000
    characters, in all the markdown blocks too."""
    person, bot, web, app_web, channel = room(server)
    answer = "## Summary\n- **one**\n- two"
    posted = app_web.chat_postMessage(channel=channel, markdown_text=answer)
    assert posted["message"]["text"] == answer
    assert posted["message"]["blocks"] == [{"type": "markdown", "text": answer}]
    changed = app_web.chat_update(channel=channel, ts=posted["ts"], markdown_text="**done**")
    assert changed["message"]["blocks"] == [{"type": "markdown", "text": "**done**"}]
    [kept] = web.conversations_history(channel=channel, limit=1)["messages"]
    assert (kept["text"], kept["blocks"][0]["type"]) == ("**done**", "markdown")
    assert app_web.chat_postEphemeral(channel=channel, user=person.user_id, markdown_text="hi")[
        "ok"
    ]
    post = app_web.chat_postMessage
    assert error_of(post, channel=channel, markdown_text="a", text="b") == "invalid_arguments"
    both = [{"type": "divider"}]
    assert error_of(post, channel=channel, markdown_text="a", blocks=both) == "invalid_arguments"
    assert error_of(post, channel=channel, markdown_text="x" * 12_001) == "msg_too_long"
    halves = [{"type": "markdown", "text": "x" * 6_001}] * 2
    assert error_of(post, channel=channel, blocks=halves) == "invalid_blocks"


def test_the_person_an_answer_is_for_may_stop_it(server):
    """Parley's: the recipient stops a stream with their own token (the web client's
    Stop); the app's next append and its stop answer Slack's ``stopped_by_user``; nobody
    else may stop it; in a direct message its person may."""
    person, bot, web, app_web, channel = room(server)
    other = server.user(f"stream-bystander-{next(_n)}")
    web.conversations_invite(channel=channel, users=other.user_id)
    asked = web.chat_postMessage(channel=channel, text="go")["ts"]
    ok = {"recipient_team_id": person.team_id, "recipient_user_id": person.user_id}
    ts = app_web.chat_startStream(channel=channel, thread_ts=asked, markdown_text="Work", **ok)[
        "ts"
    ]
    bystander = server.client(other.token)
    assert error_of(bystander.chat_stopStream, channel=channel, ts=ts) == "cant_update_message"
    stopped = web.chat_stopStream(channel=channel, ts=ts)["message"]
    assert stopped["stream"]["state"] == "stopped" and stopped["text"] == "Work"
    assert stopped["stream"]["stopped_by"] == person.user_id
    more = app_web.chat_appendStream
    assert error_of(more, channel=channel, ts=ts, markdown_text="ing") == "stopped_by_user"
    assert error_of(app_web.chat_stopStream, channel=channel, ts=ts) == "stopped_by_user"
    plain = app_web.chat_postMessage(channel=channel, text="plain")["ts"]
    assert error_of(web.chat_stopStream, channel=channel, ts=plain) == "cant_update_message"
    dm = app_web.conversations_open(users=person.user_id)["channel"]["id"]
    asked = web.chat_postMessage(channel=dm, text="psst")["ts"]
    ts = app_web.chat_startStream(channel=dm, thread_ts=asked, markdown_text="hm")["ts"]
    assert web.chat_stopStream(channel=dm, ts=ts)["message"]["stream"]["state"] == "stopped"


def test_a_bolt_assistant_titles_its_thread_suggests_prompts_and_answers(server):
    """Bolt's ``Assistant`` (``app.assistant``) over Socket Mode: a person's message in a
    thread of their direct message with the app reaches its ``user_message`` listener,
    whose ``set_title``, ``set_status``, ``set_suggested_prompts`` and ``say`` all work;
    the title and prompts are kept on the thread's first message."""
    from slack_bolt import Assistant

    person, bot, web, app_web, _channel = room(server)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    assistant = Assistant()

    @assistant.user_message
    def respond(payload, set_title, set_status, set_suggested_prompts, say):
        set_title(payload["text"])
        set_status("is thinking…")
        prompts = [{"title": "More", "message": "Tell me more"}, "Thanks"]
        set_suggested_prompts(prompts=prompts, title="Next:")
        say(f"You said: {payload['text']}")

    app.assistant(assistant)
    dm = web.conversations_open(users=bot.user_id)["channel"]["id"]
    with bolt_over_socket_mode(app, bot.app_token):
        root = web.chat_postMessage(channel=dm, text="hello")["ts"]
        web.chat_postMessage(channel=dm, text="what is parley?", thread_ts=root)

        def answered() -> list[str]:
            replies = web.conversations_replies(channel=dm, ts=root)["messages"]
            return [m["text"] for m in replies if m.get("bot_id")]

        wait_for(answered, 15, "the assistant's answer")
    assert answered() == ["You said: what is parley?"]
    [first] = web.conversations_history(channel=dm, limit=10)["messages"][-1:]
    assert first["ts"] == root and first["assistant_app_thread"] == {
        "title": "what is parley?",
        "suggested_prompts": [
            {"title": "More", "message": "Tell me more"},
            {"title": "Thanks", "message": "Thanks"},
        ],
        "prompts_title": "Next:",
    }
    assert "edited" not in first
    titled = app_web.assistant_threads_setTitle
    assert error_of(web.assistant_threads_setTitle, channel_id=dm, thread_ts=root, title="x") == (
        "not_allowed_token_type"
    )
    assert error_of(titled, channel_id=dm, thread_ts="1.000001", title="x") == "message_not_found"
    prompts = app_web.assistant_threads_setSuggestedPrompts
    assert error_of(prompts, channel_id=dm, prompts=[{"title": "a", "message": "b"}]) == (
        "invalid_arguments"
    )
    five = [{"title": str(i), "message": str(i)} for i in range(5)]
    assert error_of(prompts, channel_id=dm, thread_ts=root, prompts=five) == "invalid_arguments"
    assert error_of(prompts, channel_id=dm, thread_ts=root, prompts=[{"title": "no message"}]) == (
        "invalid_arguments"
    )


def test_a_new_chat_reaches_a_bolt_assistants_thread_started(server):
    """Parley's ``assistant.threads.start`` (the web client's New chat): the app's bot
    begins the thread, Bolt's ``thread_started`` listener hears Slack's
    ``assistant_thread_started`` (with the channel the person was in, and nothing of a
    channel they cannot see) and greets there with prompts."""
    from slack_bolt import Assistant

    person, bot, web, app_web, channel = room(server)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    assistant = Assistant()
    started: list[dict] = []

    @assistant.thread_started
    def greet(payload, say, set_suggested_prompts):
        started.append(payload)
        say("How can I help?")
        set_suggested_prompts(prompts=["What is Parley?"])

    app.assistant(assistant)
    dm = web.conversations_open(users=bot.user_id)["channel"]["id"]
    secret = server.client(server.user(f"stream-secret-{next(_n)}").token)
    hidden = secret.conversations_create(name=f"hidden-{next(_n)}", is_private=True)
    with bolt_over_socket_mode(app, bot.app_token):
        begun = web.api_call(
            "assistant.threads.start", json={"channel": dm, "context_channel_id": channel}
        )
        thread = begun["thread_ts"]

        def greeted() -> list[str]:
            replies = web.conversations_replies(channel=dm, ts=thread)["messages"][1:]
            return [m["text"] for m in replies]

        wait_for(greeted, 15, "the greeting")
        web.api_call(
            "assistant.threads.start",
            json={"channel": dm, "context_channel_id": hidden["channel"]["id"]},
        )
        wait_for(lambda: len(started) == 2, 15, "the second chat")
    assert greeted() == ["How can I help?"]
    first = web.conversations_history(channel=dm, limit=10)["messages"]
    root = next(m for m in first if m["ts"] == thread)
    assert (root["subtype"], root["user"]) == ("assistant_app_thread", bot.user_id)
    assert root["assistant_app_thread"]["suggested_prompts"] == [
        {"title": "What is Parley?", "message": "What is Parley?"}
    ]
    assert started[0]["type"] == "assistant_thread_started"
    assert started[0]["assistant_thread"] == {
        "user_id": person.user_id,
        "context": {"channel_id": channel, "team_id": person.team_id, "enterprise_id": ""},
        "channel_id": dm,
        "thread_ts": thread,
    }
    assert started[1]["assistant_thread"]["context"]["channel_id"] == ""  # unseen: none
    begin = "assistant.threads.start"
    assert error_of(web.api_call, begin, json={"channel": channel}) == "invalid_arguments"
    assert error_of(app_web.api_call, begin, json={"channel": dm}) == "not_allowed_token_type"
