"""The ``parley`` command: ``serve``, ``workspace create``, ``user create`` (and
``deactivate``, ``reactivate``, ``password``, ``list``), ``shards``, ``backup``,
``restore``, ``import slack``, ``export slack``.

Admin commands print exactly one JSON object on stdout; errors go to stderr as
``{"error": ...}`` with exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from parley import __version__, admin, logs
from parley.bench.presets import PRESETS
from parley.config import ROLES, Settings
from parley.errors import ConfigError, ParleyError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="parley", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"parley {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def data_dir(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--data-dir", help="where the SQLite files live (default: ./data, or $PARLEY_DATA_DIR)"
        )

    serve = sub.add_parser("serve", help="serve the Web API on embedded defaults")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="Web API port (default 8080; 0 = any)")
    serve.add_argument(
        "--gateway-port", type=int, help="WebSocket (RTM) gateway port (default 8081; 0 = any)"
    )
    serve.add_argument("--shards", type=int, help="SQLite shards for a new data dir (default 1)")
    serve.add_argument(
        "--role",
        choices=ROLES,
        help="what this node serves: all (default), api (Web API), gateway (WebSockets) "
        "or worker (republishes what a dead node committed but never published)",
    )
    serve.add_argument(
        "--demo", action="store_true", help="create a demo workspace and print working credentials"
    )
    data_dir(serve)

    bench = sub.add_parser("bench", help="measure load, latency and delivery guarantees")
    bench.add_argument(
        "preset",
        choices=list(PRESETS),
        help="smoke: seconds, small, checks delivery; throughput: the highest rate with p99 "
        "under 100 ms and nothing lost; latency: 5,000 msg/s over 100 channels to 1,000 "
        "subscribers; fanout, fanout10k: one channel to 1,000 or 10,000 subscribers against "
        "a bare broadcast; connections: idle connections and memory each; reconnect: "
        "subscribers drop and resume while sends go on; search-lag: latency with a probe of "
        "the search index lag; search: queries/s on a store of 1M messages; push: latency "
        "with a probe of push lag to local APNs and FCM servers, then a burst of @channel "
        "pushes to 1,000 offline members",
    )
    bench.add_argument(
        "--route",
        choices=["http", "ws"],
        help="send with chat.postMessage over HTTP (default) or the RTM WebSocket send",
    )
    bench.add_argument("--rate", type=float, help="messages/s (overrides the preset)")
    bench.add_argument("--seconds", type=float, help="how long to send (overrides the preset)")
    bench.add_argument("--subscribers", type=int, help="connections (overrides the preset)")
    bench.add_argument("--corpus", type=int, help="search: messages in the store")
    bench.add_argument("--burst", type=int, help="push: offline members of the @channel burst")
    bench.add_argument(
        "--fault",
        choices=["push"],
        help="inject a fault beside the load: push = the push providers answer 500 for a "
        "quarter of the run (reports retries, dead letters and push delivery)",
    )
    bench.add_argument("--url", help="a running server's Web API URL instead of a fresh one")
    bench.add_argument("--data-dir", help="with --url: that server's data dir (for users)")
    bench.add_argument("--json", metavar="PATH", help="write every figure as JSON")
    bench.add_argument("--plot", metavar="PATH", help="write a PNG of the latencies")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")

    ws = sub.add_parser("workspace", help="manage workspaces")
    ws_sub = ws.add_subparsers(dest="action", required=True)
    ws_create = ws_sub.add_parser("create", help="create a workspace")
    ws_create.add_argument("name")
    data_dir(ws_create)

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="action", required=True)
    u_create = user_sub.add_parser("create", help="create a user and print its token")
    u_create.add_argument("name")
    u_create.add_argument("--team", help="workspace id (optional when there is one)")
    u_create.add_argument("--bot", action="store_true", help="a bot user (xoxb- token)")
    u_create.add_argument(
        "--rate-limit",
        type=float,
        metavar="PER_SECOND",
        help="this user's own sustained messages/second (default: 1/s with bursts of 10 for "
        "people, 1/s per channel for bots)",
    )
    u_create.add_argument(
        "--scopes",
        metavar="LIST",
        help="the token's OAuth scopes, comma-separated as Slack writes them, e.g. "
        "channels:read,channels:history (default: all for people; for bots all but "
        "channels:write, search:read, dnd:write and push:write)",
    )
    u_create.add_argument(
        "--app-token",
        action="store_true",
        help="with --bot: also an app-level token (xapp-) for Socket Mode "
        "(apps.connections.open), printed as app_token",
    )
    u_create.add_argument(
        "--password",
        help="lets the user sign in to the web client at / (stored as a slow hash)",
    )
    u_create.add_argument(
        "--email", help="the user's address (users.lookupByEmail; one user a workspace)"
    )
    data_dir(u_create)
    for action, what in (
        ("deactivate", "deactivate a user: signed out everywhere, their tokens refused"),
        ("reactivate", "make a deactivated user active again"),
        ("password", "set a user's web sign-in password and sign them out of the web client"),
    ):
        cmd = user_sub.add_parser(action, help=what)
        cmd.add_argument("user", help="the user's name, or their id (U…)")
        cmd.add_argument("--team", help="workspace id (optional when there is one)")
        if action == "password":
            cmd.add_argument("--password", help="the new password (asked for when not given)")
        data_dir(cmd)
    u_list = user_sub.add_parser("list", help="the workspace's users, deactivated ones too")
    u_list.add_argument("--team", help="workspace id (optional when there is one)")
    data_dir(u_list)

    apps = sub.add_parser("app", help="Slack apps (README: Apps)")
    apps_sub = apps.add_subparsers(dest="action", required=True)
    a_events = apps_sub.add_parser(
        "events",
        help="have a bot's app get the Events API over HTTP at URL (signed; the URL must "
        "answer Slack's url_verification challenge); prints its signing secret",
    )
    a_events.add_argument("user_id", help="the bot's user id (U...)")
    a_events.add_argument("url", help="the app's request URL")
    a_events.add_argument(
        "--no-verify", action="store_true", help="skip the url_verification challenge"
    )
    data_dir(a_events)
    a_command = apps_sub.add_parser(
        "command",
        help="give a bot's app a slash command of its team: POSTed to --url (signed with "
        "the app's signing secret), or without one sent over its Socket Mode connection",
    )
    a_command.add_argument("user_id", help="the bot's user id (U...)")
    a_command.add_argument(
        "command_name", metavar="command", help="the command, with its slash: /deploy"
    )
    a_command.add_argument("--url", default="", help="the app's request URL for it")
    a_command.add_argument("--description", default="", help="what it does, for the list")
    a_command.add_argument("--usage-hint", default="", help="its arguments, e.g. [env]")
    data_dir(a_command)
    a_short = apps_sub.add_parser(
        "shortcut",
        help="give a bot's app a shortcut people run from the client's list: global, or "
        "on a message; its app gets the callback id (Bolt's @app.shortcut)",
    )
    a_short.add_argument("user_id", help="the bot's user id (U...)")
    a_short.add_argument("callback_id", help="what the app gets: new_ticket")
    a_short.add_argument("name", help="what the list shows: New ticket")
    a_short.add_argument("--message", action="store_true", help="run on a message")
    a_short.add_argument("--description", default="", help="what it does, for the list")
    data_dir(a_short)
    a_unfurl = apps_sub.add_parser(
        "unfurl",
        help="have a bot's app unfurl the links on DOMAINs (and their subdomains): it gets "
        "link_shared for them and answers with chat.unfurl; none: it unfurls no more",
    )
    a_unfurl.add_argument("user_id", help="the bot's user id (U...)")
    a_unfurl.add_argument("domains", nargs="*", metavar="DOMAIN", help="example.com")
    data_dir(a_unfurl)
    a_oauth = apps_sub.add_parser(
        "oauth",
        help="let people install a bot's app with OAuth (oauth.v2.access): prints its "
        "client id, and its client secret the first time or with --new-secret",
    )
    a_oauth.add_argument("user_id", help="the bot's user id (U...)")
    a_oauth.add_argument(
        "--redirect-url",
        action="append",
        required=True,
        metavar="URL",
        help="where the consent page may send people back (again for more)",
    )
    a_oauth.add_argument("--scopes", default="", help="what it may ask for its bot: chat:write,...")
    a_oauth.add_argument("--user-scopes", default="", help="what it may ask of the installer")
    a_oauth.add_argument("--new-secret", action="store_true", help="replace the client secret")
    data_dir(a_oauth)
    data_dir(
        apps_sub.add_parser(
            "list", help="every bot's app and what is registered for it (no signing secrets)"
        )
    )
    a_remove = apps_sub.add_parser(
        "remove",
        help="forget what is registered for a bot's app: all of it, or only --part ones "
        "(the bot stays; parley user deactivate removes it)",
    )
    a_remove.add_argument("user_id", help="the bot's user id (U...)")
    a_remove.add_argument(
        "--part",
        action="append",
        choices=("events", "interactivity", "commands", "shortcuts", "unfurl", "oauth"),
        help="only this part (again for more)",
    )
    data_dir(a_remove)
    a_inter = apps_sub.add_parser(
        "interactivity",
        help="have a bot's app get its interactions (buttons pressed) POSTed to URL, "
        "signed, instead of over its Socket Mode connection",
    )
    a_inter.add_argument("user_id", help="the bot's user id (U...)")
    a_inter.add_argument("url", help="the app's interactivity request URL")
    data_dir(a_inter)

    shards = sub.add_parser(
        "shards", help="the MySQL shard map (PARLEY_SHARDS=mysql://..., see docs/storage.md)"
    )
    shards_sub = shards.add_subparsers(dest="action", required=True)
    shards_sub.add_parser("list", help="the recorded map and each shard's message count")
    s_add = shards_sub.add_parser(
        "add",
        help="add a shard and move the channels it re-homes; offline: stop every node first",
    )
    s_add.add_argument("url", help="the new shard's database: mysql://user:password@host/db")
    s_add.add_argument(
        "--force", action="store_true", help="skip the check that no node is still connected"
    )
    search = sub.add_parser("search", help="the search index (docs/search.md)")
    search_sub = search.add_subparsers(dest="action", required=True)
    reindex = search_sub.add_parser(
        "reindex",
        help="rebuild the search index from the store (SQLite: with the server stopped)",
    )
    data_dir(reindex)
    alerts = sub.add_parser("alerts", help="paging PagerDuty (docs/operations.md)")
    alerts_sub = alerts.add_subparsers(dest="action", required=True)
    for action, what in (("ack", "acknowledge"), ("resolve", "resolve")):
        cmd = alerts_sub.add_parser(action, help=f"{what} an alert's PagerDuty incident")
        cmd.add_argument("alert", help="the alert's name (ParleyCircuitBreakerOpen...)")
        cmd.add_argument("--node", help="the node it fired on: <role>-<worker id>")
    imp = sub.add_parser("import", help="bring a workspace's history from elsewhere")
    imp_sub = imp.add_subparsers(dest="action", required=True)
    i_slack = imp_sub.add_parser(
        "slack", help="Slack's workspace export (a ZIP), with the server stopped"
    )
    i_slack.add_argument("export", help="the ZIP Slack's Import/Export Data gives")
    i_slack.add_argument("--team", help="workspace id (optional when there is one)")
    data_dir(i_slack)
    exp = sub.add_parser("export", help="write a workspace's history for elsewhere")
    exp_sub = exp.add_subparsers(dest="action", required=True)
    e_slack = exp_sub.add_parser(
        "slack",
        help="as Slack's workspace export (a ZIP), with the server stopped or from a backup",
    )
    e_slack.add_argument("out", help="the ZIP to write")
    e_slack.add_argument("--team", help="workspace id (optional when there is one)")
    data_dir(e_slack)
    b_up = sub.add_parser(
        "backup", help="copy the data dir's databases into a new directory, while it serves"
    )
    b_up.add_argument("dest", help="a new (or empty) directory")
    data_dir(b_up)
    b_in = sub.add_parser("restore", help="check a backup and copy it into an empty data dir")
    b_in.add_argument("src", help="a directory `parley backup` made")
    data_dir(b_in)
    dlq = sub.add_parser("dlq", help="dead letters of the delivery steps (docs/operations.md)")
    dlq_sub = dlq.add_subparsers(dest="action", required=True)
    d_list = dlq_sub.add_parser("list", help="the dead letters, a JSON line each")
    d_list.add_argument("--step", help="only this step's (index, push, events, schedule)")
    d_show = dlq_sub.add_parser("show", help="one dead letter with its errors and payload")
    d_show.add_argument("step")
    d_show.add_argument("item")
    d_replay = dlq_sub.add_parser(
        "replay", help="move dead letters back to the retries (replaying twice moves once)"
    )
    d_purge = dlq_sub.add_parser("purge", help="delete dead letters")
    for cmd in (d_replay, d_purge):
        cmd.add_argument("step", help="the step (index, push)")
        cmd.add_argument("items", nargs="*", help="the items (see list)")
        cmd.add_argument("--all", action="store_true", help="every dead letter of the step")
    for cmd in (d_list, d_show, d_replay, d_purge):
        data_dir(cmd)
    ret = sub.add_parser("retention", help="how long messages are kept (docs/operations.md)")
    ret_sub = ret.add_subparsers(dest="action", required=True)
    r_set = ret_sub.add_parser(
        "set", help="keep the workspace's (or one conversation's) messages N days"
    )
    r_set.add_argument("--days", type=int, required=True, help="1 to 36500")
    r_remove = ret_sub.add_parser(
        "remove", help="keep them for ever (a conversation: as its workspace's)"
    )
    for cmd in (r_set, r_remove):
        cmd.add_argument("--channel", help="a conversation's id or channel name")
        cmd.add_argument("--team", help="workspace id (optional when there is one)")
    r_list = ret_sub.add_parser("list", help="every policy, a JSON line each")
    r_sweep = ret_sub.add_parser(
        "sweep", help="remove what is past its span now (SQLite: with the server stopped)"
    )
    for cmd in (r_set, r_remove, r_list, r_sweep):
        data_dir(cmd)
    return p


async def _page(settings: Settings, args) -> bool:
    from parley.alerts import RULES
    from parley.app import node_name, pagerduty

    if not settings.pagerduty_routing_key:
        raise admin.AdminError("PARLEY_PAGERDUTY_ROUTING_KEY is not set")
    if args.alert not in RULES:
        raise admin.AdminError(f"no alert {args.alert}; alerts: {', '.join(RULES)}")
    action = "acknowledge" if args.action == "ack" else "resolve"
    client = pagerduty(settings)
    try:
        return await client.send(action, args.alert, args.node or node_name(settings), time.time())
    finally:
        await client.close()


def _dlq(settings: Settings, args) -> None:
    if args.action == "list":
        for letter in admin.dead_letters(settings, args.step):
            _emit(letter)
    elif args.action == "show":
        _emit(admin.dead_letter(settings, args.step, args.item))
    else:
        if not args.items and not args.all:
            raise admin.AdminError(f"name the items to {args.action}, or --all")
        items = None if args.all else list(args.items)
        if args.action == "replay":
            _emit({"replayed": admin.replay(settings, args.step, items)})
        else:
            _emit({"purged": admin.purge(settings, args.step, items)})


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _print_demo(settings: Settings, url: str) -> None:
    demo = admin.demo(settings)
    venv = ".venv/bin/" if Path(".venv/bin/python").exists() else ""
    chat = f"{venv}python -m parley.chat --url {url} --channel {demo.general.id} --token"
    print(
        f"""
Parley is serving at {url}

Open {url}/ and sign in as alice or bob (in two windows) with the password {demo.password}

Demo workspace {demo.team.name} ({demo.team.id}), channel #general ({demo.general.id}):
  alice      {demo.alice.user_id}  token {demo.alice.token}
  bob        {demo.bob.user_id}  token {demo.bob.token}
  alice-bot  {demo.alice_bot.user_id}  token {demo.alice_bot.token}
  bob-bot    {demo.bob_bot.user_id}  token {demo.bob_bot.token}

Post with slack_sdk's WebClient:
  {venv}python -c "from slack_sdk import WebClient; c = WebClient(token='{demo.alice.token}', \\
base_url='{url}/api/'); print(c.chat_postMessage(channel='{demo.general.id}', text='hi')['ts'])"

Chat in real time (RTM needs bot tokens), one command per terminal:
  {chat} {demo.alice_bot.token}
  {chat} {demo.bob_bot.token}

A Slack app (Bolt) as alice-bot over Socket Mode (README, "Apps"): app token
  {demo.app_token}
""",
        flush=True,
    )


def _user_action(settings: Settings, args: argparse.Namespace) -> None:
    """``parley user deactivate | reactivate | password | list``."""
    if args.action == "list":
        users = admin.list_users(settings, args.team)
        _emit(
            {
                "users": [
                    {"id": u.id, "name": u.name, "is_bot": u.is_bot, "deleted": u.deleted}
                    for u in users
                ]
            }
        )
        return
    if args.action == "password":
        password = args.password or getpass.getpass(f"new password for {args.user}: ")
        ended = admin.change_password(settings, args.team, args.user, password)
        _emit({"user": args.user, "sessions_ended": ended})
        return
    user = admin.set_active(settings, args.team, args.user, args.action == "reactivate")
    _emit({"user_id": user.id, "name": user.name, "deleted": user.deleted})


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load(
            data_dir=getattr(args, "data_dir", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            shards=getattr(args, "shards", None),
            role=getattr(args, "role", None),
            gateway_port=getattr(args, "gateway_port", None),
        )
        if args.command == "serve":
            return _serve(settings, demo=args.demo)
        if args.command == "bench":
            from parley.bench.runner import main as bench

            return bench(args)
        if args.command == "workspace":
            _emit({"team_id": admin.create_workspace(settings, args.name).id})
        elif args.command == "user" and args.action != "create":
            _user_action(settings, args)
        elif args.command == "user":
            creds = admin.create_user(
                settings,
                args.name,
                team_id=args.team,
                bot=args.bot,
                rate_limit=args.rate_limit,
                scopes=args.scopes,
                password=args.password,
                app_token=args.app_token,
                email=args.email,
            )
            _emit(creds.as_dict())
        elif args.command == "app" and args.action == "events":
            _emit(
                admin.register_event_app(
                    settings, args.user_id, args.url, verify=not args.no_verify
                )
            )
        elif args.command == "app" and args.action == "shortcut":
            _emit(
                admin.register_shortcut(
                    settings,
                    args.user_id,
                    args.callback_id,
                    args.name,
                    kind="message" if args.message else "global",
                    description=args.description,
                )
            )
        elif args.command == "app" and args.action == "list":
            for found in admin.list_apps(settings):
                _emit(found)
        elif args.command == "app" and args.action == "remove":
            _emit(admin.remove_app(settings, args.user_id, args.part))
        elif args.command == "app" and args.action == "unfurl":
            _emit(admin.set_unfurl_domains(settings, args.user_id, args.domains))
        elif args.command == "app" and args.action == "oauth":
            _emit(
                admin.register_oauth(
                    settings,
                    args.user_id,
                    args.redirect_url,
                    args.scopes,
                    args.user_scopes,
                    new_secret=args.new_secret,
                )
            )
        elif args.command == "app" and args.action == "interactivity":
            _emit(admin.register_interactivity(settings, args.user_id, args.url))
        elif args.command == "app":
            _emit(
                admin.register_command(
                    settings,
                    args.user_id,
                    args.command_name,
                    args.url,
                    description=args.description,
                    usage_hint=args.usage_hint,
                )
            )
        elif args.command == "shards":
            _emit(_shards(settings, args))
        elif args.command == "search":
            _emit(asyncio.run(_reindex(settings)))
        elif args.command == "dlq":
            _dlq(settings, args)
        elif args.command == "retention":
            _retention(settings, args)
        elif args.command == "export":
            _emit(admin.export_slack(settings, args.out, args.team))
        elif args.command == "import":
            _emit(admin.import_slack(settings, args.export, args.team))
        elif args.command == "backup":
            _emit(admin.backup(settings, args.dest))
        elif args.command == "restore":
            _emit(admin.restore(settings, args.src))
        elif args.command == "alerts":
            _emit({"sent": asyncio.run(_page(settings, args))})
        return 0
    except (admin.AdminError, ParleyError) as exc:
        sys.stderr.write(json.dumps({"error": str(exc)}) + "\n")
        return 1


def _retention(settings: Settings, args) -> None:
    if args.action == "set":
        _emit(admin.set_retention(settings, args.days, args.channel, args.team))
    elif args.action == "remove":
        _emit(admin.remove_retention(settings, args.channel, args.team))
    elif args.action == "list":
        for policy in admin.list_retention(settings):
            _emit(policy)
    else:
        _emit(admin.sweep_retention(settings))


async def _reindex(settings: Settings) -> dict:
    from parley.app import open_search, open_storage
    from parley.search.indexer import rebuild

    started = time.monotonic()
    directory, store = await open_storage(settings)
    try:
        index = await open_search(settings, store)
        try:
            messages = await rebuild(store, index)
        finally:
            await index.close()
    finally:
        await store.close()
        await directory.close()
    return {"indexed": messages, "seconds": round(time.monotonic() - started, 1)}


def _shards(settings: Settings, args: argparse.Namespace) -> dict:
    if not settings.shard_urls:
        raise ConfigError(
            "parley shards works on MySQL shards: set PARLEY_SHARDS=mysql://...,... "
            "(a SQLite data dir keeps the shard count it was created with)"
        )
    from parley.storage.mysql import reshard

    if args.action == "add":
        return reshard.add_shard(settings, args.url, force=args.force)
    return reshard.list_shards(settings)


def _serve(settings: Settings, *, demo: bool) -> int:
    import uvloop

    from parley.server import raise_loop_priority, reserve_fd_table, serve, tune_gc
    from parley.storage.sqlite.syncer import unshare_allocations

    reserve_fd_table()  # before any thread starts
    unshare_allocations()  # before any connection opens
    logs.setup(settings.log_format, settings.log_level)

    def ready(url: str) -> None:  # on the event loop's thread, its helpers started
        tune_gc()
        raise_loop_priority(settings.loop_priority)
        if demo:
            _print_demo(settings, url)
        else:
            print(f"Parley is serving at {url}", flush=True)

    uvloop.run(serve(settings, on_ready=ready))
    return 0
