"""``search.messages`` on MariaDB's engine (FULLTEXT in the shards), with the same checks
as the embedded one (``tests/app/test_search.py``), DND, devices and pushes on MariaDB's
directory, retention on MariaDB's shards, plus the words InnoDB does not index
(shorter than three letters) and words that would be stopwords elsewhere."""

from __future__ import annotations

import pytest

from parley.notify.fakes import running as local_providers
from tests import mysql_support
from tests.app.test_direct_messages import check_closing, check_dms, check_group_dms
from tests.app.test_dnd import check_dnd
from tests.app.test_files import (
    check_file_search,
    check_files,
    check_public_links,
    check_waiting_files,
)
from tests.app.test_oauth import check_exchange
from tests.app.test_push import PUSH_SETTINGS, check_push
from tests.app.test_push_devices import check_devices
from tests.app.test_retention import check_retention
from tests.app.test_search import check_all, texts, wait_total
from tests.app.test_stars import check_stars
from tests.app.test_usergroups import check_usergroups
from tests.helpers import server_in_thread


@pytest.fixture(scope="module", autouse=True)
def needs_mariadb():
    mysql_support.require()


def test_search_on_mariadb(tmp_path):
    with (
        mysql_support.databases(3, "search") as urls,
        local_providers(tmp_path / "providers") as providers,
        server_in_thread(
            tmp_path / "data",
            shard_urls=tuple(urls[:2]),
            directory_url=urls[2],
            **PUSH_SETTINGS,
            **providers.settings,
        ) as srv,
    ):
        check_all(srv, "maria")
        check_dnd(srv, "maria")  # the Do Not Disturb settings in MariaDB's directory
        check_devices(srv, "maria")  # and the devices registered for push
        check_push(srv, providers, "maria")  # and the pushes held during DND
        check_dms(srv, "maria")  # and direct messages
        check_group_dms(srv, "maria")  # and group ones
        check_closing(srv, "maria")  # closed, and opened again
        check_files(srv, "maria")  # and files, their content in chunks
        check_waiting_files(srv, "maria")  # and those never completed
        check_file_search(srv, "maria")  # and found by name and title
        check_public_links(srv, "maria")  # and shared by a public link
        check_usergroups(srv, "maria")  # and user groups
        check_exchange(srv, "maria")  # and apps installed with OAuth, their codes used once
        check_stars(srv, "maria")  # and messages saved for later
        user = srv.user("shorty")
        client = srv.client(user.token)
        ch = client.conversations_create(name="short-words")["channel"]["id"]
        client.chat_postMessage(channel=ch, text="go to it, the AI is on")
        client.chat_postMessage(channel=ch, text="nothing here about that")
        assert texts(wait_total(client, "in:#short-words go ai", 1)) == ["go to it, the AI is on"]
        assert len(texts(wait_total(client, "in:#short-words the", 1))) == 1
        assert len(texts(wait_total(client, "in:#short-words -the", 1))) == 1
        # last: it makes workspaces of its own, and the checks above use the only one
        check_retention(srv, "maria")  # and retention, its removals in the shards' index
