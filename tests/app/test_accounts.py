"""People's accounts: deactivated, reactivated and signed out, through Slack's
``admin.users.*`` methods (the real ``slack_sdk``) and through ``parley user`` in another
process while the server runs, over real WebSockets and web sessions."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from slack_sdk.errors import SlackApiError

from tests.helpers import RawClient, error_of, fetch, parley_cli, succeeds

PASSWORD = "a long passphrase"
APNS = "ab" * 32
_n = itertools.count()


def sign_in(server, name: str, password: str = PASSWORD) -> str:
    """A web session's cookie."""
    body = json.dumps({"username": name, "password": password}).encode()
    status, headers, _ = fetch(
        f"{server.url}/auth/signin", method="POST", data=body, headers={"X-Parley-Client": "web"}
    )
    assert status == 200, status
    return headers["Set-Cookie"].split(";")[0]


def as_session(server, cookie: str, user_id: str, method: str, **args) -> dict:
    """``method`` called as the web client does, with the session's cookie."""
    status, _, body = fetch(
        f"{server.url}/api/{method}",
        method="POST",
        data=json.dumps(args).encode(),
        headers={"Cookie": cookie, "X-Parley-Client": user_id, "Content-Type": "application/json"},
    )
    return json.loads(body)


def people(server):
    """An operator (``admin.users:write``), a watcher and a person to deactivate."""
    n = next(_n)
    op = server.user(f"operator-{n}", scopes="admin.users:write")
    watcher = server.user(f"watcher-{n}")
    leaver = server.user(f"leaver-{n}", password=PASSWORD)
    return op, watcher, leaver, f"leaver-{n}"


def test_a_deactivated_user_is_refused_signed_out_and_told_of_and_comes_back(server):
    op, watcher, leaver, name = people(server)
    admin_client, leaver_client = server.client(op.token), server.client(leaver.token)
    cookie = sign_in(server, name)
    assert as_session(server, cookie, leaver.user_id, "auth.test")["ok"] is True
    leaver_client.api_call("push.register", json={"platform": "apns", "device_token": APNS})

    async def scenario():
        watching = await RawClient.open(server.client(watcher.token).rtm_connect()["url"])
        leaving = await RawClient.open(leaver_client.rtm_connect()["url"])
        await asyncio.to_thread(
            admin_client.admin_users_remove, team_id=op.team_id, user_id=leaver.user_id
        )
        # in effect on the node before the answer: the connection is already closing
        assert await leaving.close_info() == (1008, "token_revoked")
        told = await watching.next(type="user_change")
        assert told["user"]["id"] == leaver.user_id and told["user"]["deleted"] is True
        await asyncio.to_thread(
            admin_client.admin_users_assign, team_id=op.team_id, user_id=leaver.user_id
        )
        told = await watching.next(type="user_change")
        assert told["user"]["id"] == leaver.user_id and told["user"]["deleted"] is False
        watching.close()

    asyncio.run(scenario())
    # reactivated: the API token works again; the web session was ended for good, and the
    # phone must be registered again
    assert leaver_client.auth_test()["user_id"] == leaver.user_id
    assert as_session(server, cookie, leaver.user_id, "auth.test")["error"] == "token_revoked"
    assert leaver_client.api_call("push.list")["devices"] == []
    assert as_session(server, sign_in(server, name), leaver.user_id, "auth.test")["ok"] is True


def test_while_deactivated_nothing_the_user_holds_works(server):
    op, watcher, leaver, name = people(server)
    admin_client, leaver_client = server.client(op.token), server.client(leaver.token)
    leaver_client.auth_test()  # cached on the node: the deactivation must evict it
    admin_client.admin_users_remove(team_id=op.team_id, user_id=leaver.user_id)
    for call in (leaver_client.auth_test, leaver_client.rtm_connect):
        assert error_of(call) == "account_inactive"
    status, _, body = fetch(
        f"{server.url}/auth/signin",
        method="POST",
        data=json.dumps({"username": name, "password": PASSWORD}).encode(),
        headers={"X-Parley-Client": "web"},
    )
    assert status == 401 and json.loads(body)["error"] == "invalid_credentials"
    shown = server.client(watcher.token).users_info(user=leaver.user_id)["user"]
    assert shown["deleted"] is True
    # no direct message opens with them
    assert error_of(server.client(watcher.token).conversations_open, users=leaver.user_id) in (
        "user_not_found",
        "user_disabled",
    )
    admin_client.admin_users_assign(team_id=op.team_id, user_id=leaver.user_id)


def test_admin_users_methods_check_who_and_where(server):
    op, watcher, leaver, _ = people(server)
    admin_client = server.client(op.token)
    assert error_of(admin_client.admin_users_remove, team_id="TOTHER", user_id=leaver.user_id) == (
        "team_not_found"
    )
    assert error_of(admin_client.admin_users_remove, team_id=op.team_id, user_id="UNOPE") == (
        "user_not_found"
    )
    assert error_of(admin_client.admin_users_session_reset, user_id="UNOPE") == "user_not_found"
    # a person's token has no operator scope
    try:
        server.client(watcher.token).admin_users_remove(team_id=op.team_id, user_id=leaver.user_id)
        raise AssertionError("a person deactivated someone")
    except SlackApiError as exc:
        assert exc.response["error"] == "missing_scope"
        assert exc.response["needed"] == "admin.users:write"
    assert server.client(leaver.token).auth_test()["ok"] is True


def test_a_session_reset_signs_the_user_out_of_the_web_client_only(server):
    op, _, leaver, name = people(server)
    first, second = sign_in(server, name), sign_in(server, name)
    leaver_client = server.client(leaver.token)

    async def scenario():
        web_url = as_session(server, first, leaver.user_id, "rtm.connect")["url"]
        web = await RawClient.open(web_url)
        api = await RawClient.open(leaver_client.rtm_connect()["url"])
        out = await asyncio.to_thread(
            server.client(op.token).admin_users_session_reset, user_id=leaver.user_id
        )
        assert out["ok"] is True
        assert await web.close_info() == (1008, "token_revoked")
        api.send_json({"id": 1, "type": "ping"})
        assert (await api.next(type="pong"))["reply_to"] == 1  # the API token's stays open
        api.close()

    asyncio.run(scenario())
    for cookie in (first, second):
        assert as_session(server, cookie, leaver.user_id, "auth.test")["error"] == "token_revoked"
    assert leaver_client.auth_test()["ok"] is True


def parley(server, *args: str) -> dict:
    """``parley ARGS --data-dir <the server's>`` in a process of its own: its JSON."""
    [printed] = parley_cli(server, *args)
    return printed


def eventually(check, timeout: float = 15.0):
    """Waits for ``check()`` to be truthy (a worker applies the command line's changes
    within a second); its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_the_command_line_deactivates_reactivates_and_resets_a_password_on_a_running_server(
    server,
):
    _, watcher, leaver, name = people(server)
    leaver_client = server.client(leaver.token)
    leaver_client.auth_test()  # cached: the server must learn of the change to refuse it

    async def deactivate():
        watching = await RawClient.open(server.client(watcher.token).rtm_connect()["url"])
        leaving = await RawClient.open(leaver_client.rtm_connect()["url"])
        out = await asyncio.to_thread(parley, server, "user", "deactivate", name)
        assert out == {"user_id": leaver.user_id, "name": name, "deleted": True}
        assert await leaving.close_info(timeout=15) == (1008, "token_revoked")
        told = await watching.next(timeout=15, type="user_change")
        assert told["user"]["id"] == leaver.user_id and told["user"]["deleted"] is True
        watching.close()

    asyncio.run(deactivate())
    assert error_of(leaver_client.auth_test) == "account_inactive"
    listed = parley(server, "user", "list")["users"]
    assert {"id": leaver.user_id, "name": name, "is_bot": False, "deleted": True} in listed
    assert parley(server, "user", "reactivate", leaver.user_id)["deleted"] is False
    assert eventually(lambda: succeeds(leaver_client.auth_test))

    cookie = sign_in(server, name)
    assert as_session(server, cookie, leaver.user_id, "auth.test")["ok"] is True
    out = parley(server, "user", "password", name, "--password", "another passphrase")
    assert out == {"user": name, "sessions_ended": 1}
    assert eventually(
        lambda: (
            as_session(server, cookie, leaver.user_id, "auth.test").get("error") == "token_revoked"
        )
    )
    sign_in(server, name, "another passphrase")
    assert leaver_client.auth_test()["ok"] is True  # the API token was never a session


def test_a_person_made_on_the_command_line_is_announced_to_the_team_and_its_apps(server):
    """``parley user create`` in another process: the team's connections hear Slack's
    ``team_join`` with the newcomer within a second or so, and so does a Bolt app over
    Socket Mode (a welcome bot's way); a bot made so is not announced."""
    from slack_bolt import App
    from slack_sdk import WebClient

    from tests.helpers import bolt_over_socket_mode
    from tests.subscriber import wait_for

    n = next(_n)
    watcher = server.user(f"greeter-watch-{n}")
    bot = server.user(f"greeter-bot-{n}", bot=True, app_token=True)
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    heard: list[dict] = []
    app.event("team_join")(lambda event: heard.append(event))

    async def join() -> dict:
        watching = await RawClient.open(server.client(watcher.token).rtm_connect()["url"])
        await asyncio.to_thread(parley, server, "user", "create", f"robot-{n}", "--bot")
        out = await asyncio.to_thread(parley, server, "user", "create", f"newcomer-{n}")
        while True:  # (people the other tests made are announced too)
            told = await watching.next(timeout=15, type="team_join")
            if told["user"]["id"] == out["user_id"]:
                break
        watching.close()
        return out, told

    with bolt_over_socket_mode(app, bot.app_token):
        out, told = asyncio.run(join())
        joined = lambda: [e["user"]["name"] for e in heard if e["user"]["id"] == out["user_id"]]  # noqa: E731
        wait_for(joined, 15, "the app's team_join")
    assert told["user"]["name"] == f"newcomer-{n}" and joined() == [f"newcomer-{n}"]
    assert f"robot-{n}" not in [e["user"]["name"] for e in heard]  # a bot is not announced
