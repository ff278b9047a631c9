from __future__ import annotations

import pytest

from tests.helpers import server_in_thread


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with server_in_thread(tmp_path_factory.mktemp("data")) as srv:
        yield srv
