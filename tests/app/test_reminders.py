"""Reminders through the real ``slack_sdk``: set, listed, said by the workspace's Slackbot
in its direct message with the person (over a real WebSocket), completed and deleted."""

from __future__ import annotations

import asyncio
import itertools
import time

from parley.pipeline.reminders import slackbot_id
from tests.helpers import RawClient, error_of

_n = itertools.count()


def person(server):
    creds = server.user(f"reminded-{next(_n)}")
    return creds, server.client(creds.token)


def test_a_reminder_is_said_by_slackbot_when_due_and_stays_listed_until_completed(server):
    creds, web = person(server)

    async def scenario():
        listening = await RawClient.open(web.rtm_connect()["url"])
        due = int(time.time()) + 2
        added = await asyncio.to_thread(web.reminders_add, text="stretch", time=str(due))
        said = await listening.next(timeout=20, type="message", user=slackbot_id(creds.team_id))
        listening.close()
        return added["reminder"], said, due

    reminder, said, due = asyncio.run(scenario())
    assert reminder["text"] == "stretch" and reminder["time"] == due
    assert reminder["recurring"] is False and reminder["complete_ts"] == 0
    assert reminder["id"].startswith("Rm") and reminder["user"] == creds.user_id
    assert said["text"] == "Reminder: stretch." and said["channel"].startswith("D")
    bot = web.users_info(user=said["user"])["user"]
    assert bot["name"] == "slackbot" and bot["is_bot"] is True
    # said once, and still listed (its time past) until completed
    history = web.conversations_history(channel=said["channel"])["messages"]
    assert [m["text"] for m in history] == ["Reminder: stretch."]
    assert web.reminders_info(reminder=reminder["id"])["reminder"]["complete_ts"] == 0
    web.reminders_complete(reminder=reminder["id"])
    done = web.reminders_list()["reminders"]
    assert len(done) == 1 and done[0]["complete_ts"] >= due
    assert error_of(web.reminders_complete, reminder=reminder["id"]) == "already_complete"
    web.reminders_delete(reminder=reminder["id"])
    assert web.reminders_list()["reminders"] == []
    assert error_of(web.reminders_info, reminder=reminder["id"]) == "not_found"


def test_remind_reads_the_time_from_the_text_and_recurring_ones_come_back(server):
    creds, web = person(server)
    now = time.time()
    # Parley's: no time, the text ends with it (what /remind sends)
    plain = web.api_call("reminders.add", json={"text": "to drink water in 10 minutes"})
    plain = plain["reminder"]
    assert plain["text"] == "drink water" and 599 <= plain["time"] - now <= 602
    daily = web.reminders_add(text="stand up", time="every weekday at 9:30am", tz_offset=60)
    assert daily["reminder"]["recurring"] is True and "time" not in daily["reminder"]
    assert daily["reminder"]["recurrence"]["weekdays"][0] == "monday"
    # a recurring one, due now: said, then due again the next day, so still listed
    again = web.api_call(
        "reminders.add",
        json={"text": "log hours", "time": str(int(now) + 1), "recurrence": {"frequency": "daily"}},
    )["reminder"]

    async def said():
        listening = await RawClient.open(web.rtm_connect()["url"])
        frame = await listening.next(timeout=20, type="message", text="Reminder: log hours.")
        listening.close()
        return frame

    asyncio.run(said())
    kept = {r["id"]: r for r in web.reminders_list()["reminders"]}
    assert set(kept) == {plain["id"], daily["reminder"]["id"], again["id"]}
    assert error_of(web.reminders_complete, reminder=again["id"]) == "cannot_complete_recurring"


def test_what_a_reminder_may_not_be(server):
    creds, web = person(server)
    other, _ = person(server)
    assert error_of(web.reminders_add, text="x", time="whenever") == "cannot_parse"
    no_time = {"text": "nothing said of when"}
    assert error_of(web.api_call, "reminders.add", json=no_time) == "cannot_parse"
    assert error_of(web.reminders_add, text="x", time="in 5 minutes", user=other.user_id) == (
        "cannot_add_others"
    )
    weekly = {"text": "x", "time": "in 5 minutes", "recurrence": {"frequency": "weekly"}}
    assert error_of(web.api_call, "reminders.add", json=weekly) == "invalid_arguments"
    assert error_of(web.reminders_info, reminder="RmNOPE") == "not_found"
    # another's reminder is not_found: reminders are one's own
    mine = web.reminders_add(text="private", time="in 5 minutes")["reminder"]["id"]
    assert error_of(server.client(other.token).reminders_delete, reminder=mine) == "not_found"
