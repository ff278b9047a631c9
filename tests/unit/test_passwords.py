"""Password hashes: slow, salted, self-describing, constant-time to check."""

from __future__ import annotations

import pytest

from parley.pipeline.passwords import MAX_LENGTH, hash_password, verify


def test_a_hash_verifies_only_its_password_and_is_salted():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$15$8$1$") and "correct horse" not in stored
    assert verify("correct horse", stored)
    assert not verify("correct horsE", stored)
    assert hash_password("correct horse") != stored  # a new salt every time


def test_nothing_malformed_verifies_or_raises():
    stored = hash_password("pw")
    for bad in (
        None,
        "",
        "plain",
        "scrypt$15$8$1$$",
        "md5$x$y$z$a$b",
        stored.replace("$15$", "$99$"),
    ):
        assert not verify("pw", bad)
    assert not verify("", stored) and not verify("x" * (MAX_LENGTH + 1), stored)
    with pytest.raises(ValueError):
        hash_password("")
