"""User groups through ``slack_sdk``: made, renamed, their members set, disabled and
enabled, listed; every change told to the team; names and handles unique. The same
checks run on MariaDB's directory in ``tests/integration/test_mysql_search.py``; a
mention's push is in ``tests/app/test_push.py``."""

from __future__ import annotations

from websockets.sync.client import connect

from tests.helpers import RunningServer, error_of, frame_of


def check_usergroups(srv: RunningServer, tag: str) -> None:
    people = {n: srv.user(f"ug-{n}-{tag}") for n in ("ann", "ben", "cy")}
    web = {n: srv.client(u.token) for n, u in people.items()}
    ids = {n: u.user_id for n, u in people.items()}
    ann, ben = web["ann"], web["ben"]

    with connect(ben.rtm_connect()["url"]) as ws:
        assert '"hello"' in ws.recv(timeout=10)
        made = ann.usergroups_create(name=f"On Call {tag}", description="who answers")
        group = made["usergroup"]
        assert group["id"].startswith("S") and group["handle"] == f"on-call-{tag}"
        assert (group["user_count"], group["users"], group["date_delete"]) == (0, [], 0)
        told = frame_of(ws, "subteam_created")["subteam"]
        assert told["id"] == group["id"]
        ann.usergroups_users_update(usergroup=group["id"], users=[ids["ben"], ids["cy"]])
        updated = frame_of(ws, "subteam_updated")["subteam"]
        assert sorted(updated["users"]) == sorted([ids["ben"], ids["cy"]])

    # unique names and handles in the workspace
    assert error_of(ben.usergroups_create, name=f"On Call {tag}") == "name_already_exists"
    assert error_of(ben.usergroups_create, name="other", handle=f"on-call-{tag}") == (
        "handle_already_exists"
    )
    assert error_of(ben.usergroups_create, name="bad", handle="Not OK") == "invalid_handle"
    assert error_of(ben.api_call, "usergroups.create") == "missing_subteam_name"

    # renamed (not to another's name or handle); listed with and without members
    other = ben.usergroups_create(name=f"Other {tag}")["usergroup"]["id"]
    assert error_of(ben.usergroups_update, usergroup=other, name=f"On Call {tag}") == (
        "name_already_exists"
    )
    assert error_of(ben.usergroups_update, usergroup=other, handle=f"on-call-{tag}") == (
        "handle_already_exists"
    )
    renamed = ben.usergroups_update(usergroup=group["id"], handle=f"oncall-{tag}")["usergroup"]
    assert (renamed["handle"], renamed["name"]) == (f"oncall-{tag}", f"On Call {tag}")
    listed = ann.usergroups_list(include_users=True)["usergroups"]
    mine = [g for g in listed if g["id"] == group["id"]]
    assert len(mine) == 1 and sorted(mine[0]["users"]) == sorted([ids["ben"], ids["cy"]])
    assert "users" not in ann.usergroups_list()["usergroups"][0]
    assert sorted(ann.usergroups_users_list(usergroup=group["id"])["users"]) == sorted(
        [ids["ben"], ids["cy"]]
    )

    # disabled: kept, listed only when asked, enabled again
    ann.usergroups_disable(usergroup=group["id"])
    assert group["id"] not in str(ann.usergroups_list())
    assert group["id"] in str(ann.usergroups_list(include_disabled=True))
    assert error_of(ann.usergroups_users_list, usergroup=group["id"]) == "no_such_subteam"
    assert ann.usergroups_enable(usergroup=group["id"])["usergroup"]["date_delete"] == 0

    # bad arguments
    assert error_of(ann.usergroups_update, usergroup="SNOTHING0") == "no_such_subteam"
    assert error_of(ann.usergroups_users_update, usergroup=group["id"], users="UNOBODY00") == (
        "invalid_users"
    )
    narrow = srv.client(srv.user(f"ug-narrow-{tag}", scopes="usergroups:read").token)
    assert error_of(narrow.usergroups_create, name="nope") == "missing_scope"
    assert narrow.usergroups_list()["ok"] is True


def test_usergroups(server):
    check_usergroups(server, "emb")
