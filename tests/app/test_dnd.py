"""Do Not Disturb through ``slack_sdk``: ``dnd.setSnooze``, ``dnd.endSnooze``, ``dnd.endDnd``,
``dnd.info``, ``dnd.teamInfo`` and Parley's ``dnd.setSchedule``, with their errors. The
same checks run on MariaDB's directory in ``tests/integration/test_mysql_search.py``."""

from __future__ import annotations

import time

from tests.helpers import RunningServer, error_of


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def check_dnd(srv: RunningServer, tag: str) -> None:
    alice, bob = srv.user(f"dnd-alice-{tag}"), srv.user(f"dnd-bob-{tag}")
    a, b = srv.client(alice.token), srv.client(bob.token)
    fresh = a.dnd_info()
    assert fresh["dnd_enabled"] is False and fresh["snooze_enabled"] is False
    assert fresh["next_dnd_start_ts"] == 0

    before = int(time.time())
    snoozed = a.dnd_setSnooze(num_minutes=30)
    assert snoozed["snooze_enabled"] is True and snoozed["snooze_is_indefinite"] is False
    assert before + 1800 <= snoozed["snooze_endtime"] <= int(time.time()) + 1800
    assert 1790 <= snoozed["snooze_remaining"] <= 1800
    assert a.dnd_info()["snooze_enabled"] is True
    theirs = b.dnd_info(user=alice.user_id)  # another user sees no snooze details
    assert "snooze_enabled" not in theirs and theirs["dnd_enabled"] is False

    schedule = a.api_call(
        "dnd.setSchedule", json={"start": "22:00", "end": "08:00", "tz": "Europe/Paris"}
    )
    assert schedule["dnd_enabled"] is True
    assert schedule["next_dnd_end_ts"] - schedule["next_dnd_start_ts"] in (
        9 * 3600,
        10 * 3600,
        11 * 3600,
    )
    mine = a.dnd_info()
    assert mine["dnd_schedule"] == {"start": "22:00", "end": "08:00", "tz": "Europe/Paris"}
    assert mine["snooze_enabled"] is True  # the schedule kept the snooze

    team = b.dnd_teamInfo(users=f"{alice.user_id},{bob.user_id}")["users"]
    assert team[alice.user_id]["dnd_enabled"] is True and team[bob.user_id]["dnd_enabled"] is False

    ended = a.dnd_endSnooze()
    assert ended["snooze_enabled"] is False and ended["dnd_enabled"] is True
    assert error_of(a.dnd_endSnooze) == "snooze_not_active"
    # a window that holds now, ended by hand: tomorrow's holds as scheduled
    now = time.gmtime()
    minute = now.tm_hour * 60 + now.tm_min
    start, end = (clock((minute - 60) % 1440), clock((minute + 60) % 1440))
    a.dnd_setSnooze(num_minutes=5)
    inside = a.api_call("dnd.setSchedule", json={"start": start, "end": end, "tz": "UTC"})
    assert inside["next_dnd_start_ts"] <= time.time() < inside["next_dnd_end_ts"]
    assert a.dnd_endDnd()["ok"]
    after = a.dnd_info()
    assert after["dnd_enabled"] is True and after["snooze_enabled"] is False
    assert after["next_dnd_start_ts"] == inside["next_dnd_start_ts"] + 86_400  # UTC
    assert a.dnd_endDnd()["ok"]  # nothing holds: nothing to end
    cleared = a.api_call("dnd.setSchedule", json={})
    assert cleared["dnd_enabled"] is False and "dnd_schedule" not in a.dnd_info()

    assert error_of(a.dnd_setSnooze, num_minutes=0) == "invalid_arguments"
    assert error_of(a.dnd_info, user="U0NOBODY0") == "user_not_found"
    assert error_of(b.dnd_teamInfo, users="U0NOBODY0") == "user_not_found"
    for bad in (
        {"start": "25:00", "end": "08:00"},
        {"start": "22:00", "end": "08:00", "tz": "Mars/Olympus"},
    ):
        assert error_of(a.api_call, "dnd.setSchedule", json=bad) == "invalid_arguments"
    bot = srv.client(srv.user(f"dnd-bot-{tag}", bot=True).token)
    assert error_of(bot.dnd_setSnooze, num_minutes=5) == "missing_scope"
    assert bot.dnd_info(user=alice.user_id)["ok"]  # reading is allowed to bots


def test_dnd_on_the_embedded_directory(server):
    check_dnd(server, "emb")
