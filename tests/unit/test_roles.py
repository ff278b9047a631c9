"""``parley serve --role``: what each role needs and serves."""

from __future__ import annotations

import pytest

from parley.app import check_role
from parley.config import Settings
from parley.errors import ConfigError


def test_all_needs_nothing_shared():
    check_role(Settings())


@pytest.mark.parametrize(
    ("role", "missing"),
    [
        ("api", "PARLEY_SHARDS, PARLEY_BUS_URL, PARLEY_REDIS_URL, PARLEY_GATEWAY_URL"),
        ("gateway", "PARLEY_SHARDS, PARLEY_BUS_URL, PARLEY_REDIS_URL"),
    ],
)
def test_split_roles_name_the_shared_backends_they_lack(role, missing):
    with pytest.raises(ConfigError, match=f"--role {role} needs {missing}"):
        check_role(Settings(role=role))


def test_a_role_that_does_not_exist_or_a_gateway_url_that_is_not_websocket_is_refused():
    with pytest.raises(ConfigError, match="role"):
        Settings.load({"PARLEY_ROLE": "everything"})
    with pytest.raises(ConfigError, match="gateway_url"):
        Settings.load({"PARLEY_GATEWAY_URL": "http://lb/rtm"})
