"""Files through ``slack_sdk``'s ``files_upload_v2`` (``files.getUploadURLExternal``,
the upload URL, ``files.completeUploadExternal``), their message, downloads with a
token, who may read them (the private-channel boundary), listing and deleting. The same
checks run on MariaDB's directory in ``tests/integration/test_mysql_search.py``."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import zlib

import msgspec
from slack_bolt import App
from slack_sdk import WebClient
from websockets.sync.client import connect

from parley.files.service import MAX_WAITING
from tests.app.test_search import wait_total
from tests.helpers import RunningServer, bolt_over_socket_mode, error_of, fetch, frame_of
from tests.subscriber import wait_for


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour, ``width`` by ``height``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


PNG = png(1, 1, (255, 255, 255))


def check_files(srv: RunningServer, tag: str) -> None:
    people = {n: srv.user(f"files-{n}-{tag}") for n in ("ann", "ben", "cy")}
    web = {n: srv.client(u.token) for n, u in people.items()}
    ids = {n: u.user_id for n, u in people.items()}
    ann, ben, cy = web["ann"], web["ben"], web["cy"]
    room = ann.conversations_create(name=f"files-room-{tag}")["channel"]["id"]
    ann.conversations_invite(channel=room, users=ids["ben"])
    hidden = ann.conversations_create(name=f"files-hidden-{tag}", is_private=True)
    hidden = hidden["channel"]["id"]

    # slack_sdk's upload, shared into a channel with a comment
    report = os.urandom(700_000)  # more than one chunk
    up = ann.files_upload_v2(
        channel=room, file=report, filename="report.bin", title="Q3", initial_comment="the report"
    )
    f = up["file"]
    assert f["id"].startswith("F") and (f["name"], f["title"], f["size"]) == (
        "report.bin",
        "Q3",
        len(report),
    )
    assert f["channels"] == [room] and f["user"] == ids["ann"]
    [message] = ben.conversations_history(channel=room, limit=1)["messages"]
    assert message["text"] == "the report" and [x["id"] for x in message["files"]] == [f["id"]]
    assert message["upload"] is True and message["subtype"] == "file_share"
    status, headers, body = fetch(f["url_private"], people["ben"].token)
    assert (status, body) == (200, report)
    assert headers["content-disposition"].startswith("attachment")
    assert headers["x-content-type-options"] == "nosniff"

    # an image is shown inline; as a download, it is an attachment
    pic = ann.files_upload_v2(channel=room, content=PNG, filename="dot.png")["file"]
    assert pic["mimetype"] == "image/png" and pic["title"] == "dot.png"
    status, headers, body = fetch(pic["url_private"], people["ben"].token)
    assert (status, headers["content-type"], body) == (200, "image/png", PNG)
    status, headers, _ = fetch(pic["url_private_download"], people["ben"].token)
    assert headers["content-disposition"].startswith("attachment")

    # in a private channel: its members only; to anyone else it does not exist
    secret = ann.files_upload_v2(channel=hidden, content=b"top secret", filename="s.txt")
    secret = secret["file"]
    assert ann.files_info(file=secret["id"])["file"]["groups"] == [hidden]
    assert error_of(ben.files_info, file=secret["id"]) == "file_not_found"
    assert fetch(secret["url_private"], people["ben"].token)[0] == 404
    assert fetch(secret["url_private"])[0] == 401  # no token at all
    assert secret["id"] not in str(ben.files_list())
    assert secret["id"] in str(ann.files_list())
    assert error_of(ben.files_list, channel=hidden) == "channel_not_found"
    assert error_of(ben.files_delete, file=secret["id"]) == "file_not_found"

    # not shared anywhere: its uploader's alone
    mine = ann.files_upload_v2(content=b"draft", filename="draft.txt")["file"]
    assert mine["channels"] == [] and ann.files_info(file=mine["id"])["file"]["id"] == mine["id"]
    assert error_of(ben.files_info, file=mine["id"]) == "file_not_found"

    # listing: newest first, by channel, by user, a page at a time
    in_room = ben.files_list(channel=room)["files"]
    assert [x["id"] for x in in_room] == [pic["id"], f["id"]]
    first = ann.files_list(limit=2)
    assert [x["id"] for x in first["files"]] == [mine["id"], secret["id"]]
    cursor = first["response_metadata"]["next_cursor"]
    rest = ann.files_list(limit=2, cursor=cursor)["files"]
    assert [x["id"] for x in rest] == [pic["id"], f["id"]]
    # cy is in none of ann's channels: he sees what she shared in the public one
    assert [x["id"] for x in cy.files_list(user=ids["ann"])["files"]] == [pic["id"], f["id"]]

    # the upload URL: once, the length announced, the right secret
    ticket = cy.files_getUploadURLExternal(filename="n.txt", length=5)
    url = ticket["upload_url"]
    assert fetch(url, method="POST", data=b"12345678")[0] == 400  # not the length announced
    assert fetch(url + "x", method="POST", data=b"12345")[0] == 404  # not its secret
    assert fetch(url, method="POST", data=b"12345")[:1] == (200,)
    assert fetch(url, method="POST", data=b"12345")[0] == 404  # used
    done = [{"id": ticket["file_id"], "title": "five"}]
    assert error_of(cy.files_completeUploadExternal, files=done, channel_id=room) == (
        "not_in_channel"
    )
    assert error_of(ben.files_completeUploadExternal, files=done) == "file_not_found"  # not his
    cy.files_completeUploadExternal(files=done)
    assert error_of(cy.files_completeUploadExternal, files=done) == "file_not_found"  # once
    waiting = cy.files_getUploadURLExternal(filename="w.txt", length=3)["file_id"]
    assert error_of(cy.files_completeUploadExternal, files=[{"id": waiting}]) == (
        "file_not_uploaded"
    )

    # bad arguments
    assert error_of(cy.files_getUploadURLExternal, filename="x", length=0) == "invalid_arguments"
    big = srv.settings.max_file + 1
    assert error_of(cy.files_getUploadURLExternal, filename="x", length=big) == (
        "invalid_arguments"
    )
    not_json = {"files": "not json"}
    assert error_of(cy.api_call, "files.completeUploadExternal", data=not_json) == (
        "invalid_arguments"
    )
    assert error_of(cy.files_info, file="FNOTHING0") == "file_not_found"

    # deleting: the uploader's; the link goes, the message that shared it keeps its
    # tombstone (as Slack's), not marked edited
    assert error_of(ben.files_delete, file=f["id"]) == "cant_delete_file"
    before = ben.conversations_history(channel=room)["messages"][-1]
    assert before["files"][0]["name"] == "report.bin"
    ann.files_delete(file=f["id"])
    assert error_of(ben.files_info, file=f["id"]) == "file_not_found"
    assert fetch(f["url_private"], people["ben"].token)[0] == 404
    kept = ben.conversations_history(channel=room)["messages"][-1]
    assert kept["ts"] == before["ts"] and kept["text"] == before["text"]
    assert kept["files"] == [{"id": f["id"], "mode": "tombstone"}] and "edited" not in kept


def test_files(server):
    check_files(server, "emb")


def check_file_search(srv: RunningServer, tag: str) -> None:
    """``search.files`` and ``search.all``: by name and title, as the reader may see."""
    ann_u, ben_u = srv.user(f"fs-ann-{tag}"), srv.user(f"fs-ben-{tag}")
    ann, ben = srv.client(ann_u.token), srv.client(ben_u.token)
    room = ann.conversations_create(name=f"fs-room-{tag}")["channel"]["id"]
    ann.conversations_invite(channel=room, users=ben_u.user_id)
    hidden = ann.conversations_create(name=f"fs-hidden-{tag}", is_private=True)["channel"]["id"]

    def up(web, channel, name, title=None):
        kw = {"channel": channel} if channel else {}
        return web.files_upload_v2(content=b"x", filename=name, title=title, **kw)["file"]["id"]

    q3 = up(ann, room, f"q3-report-{tag}.pdf", "Quarterly numbers")
    secret = up(ann, hidden, f"roadmap_v2-{tag}.txt")
    draft = up(ann, None, f"report-notes-{tag}.txt")  # shared nowhere: ann's alone
    bens = up(ben, room, f"report-draft-{tag}.md")
    ann.chat_postMessage(channel=room, text=f"the report {tag} is up")

    def found(web, query, **kw):
        return [f["id"] for f in web.search_files(query=query, **kw)["files"]["matches"]]

    assert found(ben, f"report {tag}") == [bens, q3]  # newest first; not ann's own draft
    assert found(ann, f"report {tag}") == [bens, draft, q3]
    assert found(ann, f"report {tag}", sort_dir="asc") == [q3, draft, bens]
    assert found(ben, f"QUARTERLY {tag}") == [q3]  # by title, whatever the case
    assert found(ben, f"report -draft {tag}") == [q3]
    assert found(ben, f'"q3 pdf" {tag}') == [q3]  # a phrase: its words in order
    assert found(ben, f'"pdf q3" {tag}') == []
    assert found(ben, f"report {tag} from:@fs-ben-{tag}") == [bens]
    assert found(ann, f"{tag} in:#fs-room-{tag}") == [bens, q3]
    assert found(ann, f"roadmap_v2 {tag}") == [secret]  # "_" is itself, not any letter
    assert found(ann, f"roadmapxv2 {tag}") == []
    assert found(ben, f"roadmap {tag}") == []  # the private channel's, unseen
    assert found(ben, f"{tag} in:#fs-hidden-{tag}") == []
    page = ben.search_files(query=f"report {tag}", count=1, page=2)["files"]
    assert [f["id"] for f in page["matches"]] == [q3]
    assert (page["total"], page["paging"]["pages"], page["pagination"]["first"]) == (2, 2, 2)
    shown = ben.search_files(query=f"quarterly {tag}")["files"]["matches"][0]
    assert shown["title"] == "Quarterly numbers" and shown["channels"] == [room]
    wait_total(ben, f"report {tag}", 1)  # the message, once indexed
    both = ben.search_all(query=f"report {tag}")
    assert (both["files"]["total"], both["messages"]["total"]) == (2, 1)
    assert both["messages"]["matches"][0]["text"] == f"the report {tag} is up"
    assert error_of(ben.search_files, query="") == "no_query"
    bot = srv.client(srv.user(f"fs-bot-{tag}", bot=True).token)
    assert error_of(bot.search_files, query="report") == "missing_scope"  # people's alone


def check_public_links(srv: RunningServer, tag: str) -> None:
    """``files.sharedPublicURL``: the uploader gives a file a link that serves it to
    anyone without a token, until revoked or deleted; nobody else may."""
    ann_u, ben_u = srv.user(f"pub-ann-{tag}"), srv.user(f"pub-ben-{tag}")
    ann, ben = srv.client(ann_u.token), srv.client(ben_u.token)
    room = ann.conversations_create(name=f"pub-room-{tag}")["channel"]["id"]
    ann.conversations_invite(channel=room, users=ben_u.user_id)
    f = ann.files_upload_v2(channel=room, content=PNG, filename="plan.png")["file"]
    assert f["public_url_shared"] is False and "permalink_public" not in f
    assert error_of(ben.files_sharedPublicURL, file=f["id"]) == "not_allowed"  # not his
    shared = ann.files_sharedPublicURL(file=f["id"])["file"]
    link = shared["permalink_public"]
    assert shared["public_url_shared"] is True and link.startswith(srv.url + "/files/public/")
    status, headers, body = fetch(link)  # no token at all
    assert (status, headers["content-type"], body) == (200, "image/png", PNG)
    assert headers["x-content-type-options"] == "nosniff"
    assert ben.files_info(file=f["id"])["file"]["permalink_public"] == link
    assert error_of(ann.files_sharedPublicURL, file=f["id"]) == "already_public"
    assert fetch(link[:-3] + "xyz")[0] == 404  # not its secret
    assert fetch(link.replace(f["id"], "FNOTHING0"))[0] == 404
    revoked = ann.files_revokePublicURL(file=f["id"])["file"]
    assert revoked["public_url_shared"] is False and fetch(link)[0] == 404
    again = ann.files_sharedPublicURL(file=f["id"])["file"]["permalink_public"]
    assert again != link and fetch(again)[0] == 200  # a new link, a new secret
    ann.files_delete(file=f["id"])
    assert fetch(again)[0] == 404  # deleted: its link went with it


def test_a_file_shared_by_a_public_link(server):
    check_public_links(server, "emb")


def test_files_are_found_by_name_and_title(server):
    check_file_search(server, "emb")


def test_a_share_and_a_deletion_are_told_to_the_channel_and_its_apps(server):
    """``file_shared`` after the share's message and ``file_deleted``, to the channel's
    connections and to a Bolt app whose bot is in it; not to anyone outside it."""
    ann, ben, cy = (server.user(f"files-told-{n}") for n in ("ann", "ben", "cy"))
    bot = server.user("files-told-bot", bot=True, app_token=True)
    web = server.client(ann.token)
    room = web.conversations_create(name="files-told")["channel"]["id"]
    web.conversations_invite(channel=room, users=f"{ben.user_id},{bot.user_id}")
    app = App(client=WebClient(token=bot.token, base_url=f"{server.url}/api/"))
    heard: list[dict] = []
    app.event("file_shared")(lambda event: heard.append(event))
    app.event("file_deleted")(lambda event: heard.append(event))
    app.event("message")(lambda: None)
    with (
        bolt_over_socket_mode(app, bot.app_token),
        connect(server.client(ben.token).rtm_connect()["url"]) as ws,
        connect(server.client(cy.token).rtm_connect()["url"]) as outside,
    ):
        assert '"hello"' in ws.recv(timeout=10) and '"hello"' in outside.recv(timeout=10)
        f = web.files_upload_v2(channel=room, content=b"notes", filename="n.txt")["file"]
        message = frame_of(ws, "message")
        assert message["subtype"] == "file_share" and message["files"][0]["id"] == f["id"]
        shared = frame_of(ws, "file_shared")
        assert {k: shared[k] for k in ("channel_id", "file_id", "user_id", "file")} == {
            "channel_id": room,
            "file_id": f["id"],
            "user_id": ann.user_id,
            "file": {"id": f["id"]},
        }
        # Bolt runs listeners on a pool of threads, so the order it calls them in is not
        # the order they arrived in: the deletion waits until the app has heard the share
        wait_for(lambda: len(heard) == 1, 10, "the app's file_shared")
        web.files_delete(file=f["id"])
        deleted = frame_of(ws, "file_deleted")
        assert (deleted["file_id"], deleted["channel_ids"]) == (f["id"], [room])
        wait_for(lambda: len(heard) == 2, 10, "the app's file_deleted")
        assert [(e["type"], e["file_id"]) for e in heard] == [
            ("file_shared", f["id"]),
            ("file_deleted", f["id"]),
        ]
        # cy, outside the channel, heard of neither: the next frame he gets is a ping's
        outside.send('{"type": "ping", "id": 7}')
        assert json.loads(outside.recv(timeout=10))["type"] == "pong"


def test_files_never_completed_are_forgotten_and_bounded(server):
    check_waiting_files(server, "emb")


def check_waiting_files(server: RunningServer, tag: str) -> None:
    """A user's files announced and not completed: forgotten (with their content) once
    stale, at the next announcement; at most so many at once (``too_many_uploads``)."""
    user = server.user(f"files-stale-{tag}")
    web = server.client(user.token)
    waiting = web.files_getUploadURLExternal(filename="w.txt", length=2)
    assert fetch(waiting["upload_url"], method="POST", data=b"hi")[0] == 200
    directory = server.services.directory

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, server.loop).result(10)

    stale = run(directory.file(waiting["file_id"]))
    fresh = msgspec.structs.replace(stale, id=f"F0{tag}0", upload_hash="x", uploaded=False)
    # the moment of staleness after it: the waiting one goes, content and all
    assert run(directory.create_file(fresh, stale.created + 1, 100)) is True
    assert run(directory.file(waiting["file_id"])) is None
    assert run(directory.file_content(waiting["file_id"])) == b""
    # one still waits: a bound of one refuses another
    other = msgspec.structs.replace(fresh, id=f"F1{tag}1")
    assert run(directory.create_file(other, 0, 1)) is False
    assert run(directory.file(other.id)) is None
    for _ in range(MAX_WAITING - 1):
        web.files_getUploadURLExternal(filename="n.txt", length=1)
    assert error_of(web.files_getUploadURLExternal, filename="n.txt", length=1) == (
        "too_many_uploads"
    )
