"""Settings: read once from the environment, then overrides; invalid values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.config import Settings
from parley.errors import ConfigError


def test_defaults_environment_and_overrides():
    assert Settings.load({}).shards == 1
    s = Settings.load(
        {"PARLEY_SHARDS": "8", "PARLEY_DATA_DIR": "/x", "PARLEY_RECENT_TTL": "5"},
        shards=None,
        port=9000,
    )
    assert (s.shards, s.data_dir, s.recent_ttl, s.port) == (8, Path("/x"), 5.0, 9000)


@pytest.mark.parametrize(
    "env",
    [
        {"PARLEY_SHARDS": "0"},
        {"PARLEY_SHARDS": "many"},
        {"PARLEY_SQLITE_SYNCHRONOUS": "OFF"},
        {"PARLEY_WORKER_ID": "1024"},
        {"PARLEY_WS_WRITE_THREADS": "-1"},
    ],
)
def test_invalid_settings_are_refused(env):
    with pytest.raises(ConfigError):
        Settings.load(env)


def test_booleans_from_the_environment():
    assert Settings.load({"PARLEY_WS_DEFLATE": "0"}).ws_deflate is False
    assert Settings.load({"PARLEY_WS_DEFLATE": "true"}).ws_deflate is True
    with pytest.raises(ConfigError):
        Settings.load({"PARLEY_WS_DEFLATE": "maybe"})
