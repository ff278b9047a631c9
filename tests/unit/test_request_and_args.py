"""Decoding request bodies and reading arguments: every failure is a Slack error code."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley.api.args import Args
from parley.api.request import bearer_token, parse_body, parse_query
from parley.errors import ApiError


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value.code


def multipart(fields: dict[str, str]) -> tuple[str, bytes]:
    """A body shaped like slack_sdk's WebClient sends it."""
    boundary = f"--------------{uuid.uuid4()}"
    body = b""
    for name, value in fields.items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def test_json_form_and_multipart_bodies():
    assert parse_body("application/json;charset=utf-8", b'{"a": 1, "b": [2]}') == {"a": 1, "b": [2]}
    assert parse_body("application/x-www-form-urlencoded", b"a=1&b=x%20y&c=") == {
        "a": "1",
        "b": "x y",
        "c": "",
    }
    ctype, body = multipart({"channel": "C1", "text": "héllo\nworld"})
    assert parse_body(ctype, body) == {"channel": "C1", "text": "héllo\nworld"}
    assert parse_body("application/json", b"") == {}
    assert parse_query("limit=5&cursor=") == {"limit": "5", "cursor": ""}


@pytest.mark.parametrize(
    ("ctype", "body", "code"),
    [
        ("application/json", b"{nope", "invalid_json"),
        ("application/json", b"[1]", "invalid_json"),
        ("application/json", b'"text"', "invalid_json"),
        ("application/x-www-form-urlencoded", b"a=\xff", "invalid_form_data"),
        ("multipart/form-data", b"--x\r\n", "invalid_form_data"),
        ("multipart/form-data; boundary=x", b"--x\r\ngarbage", "invalid_form_data"),
        ("text/xml", b"<a/>", "invalid_post_type"),
    ],
)
def test_bad_bodies(ctype, body, code):
    assert code_of(parse_body, ctype, body) == code


@given(
    st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=b",
            "text/plain",
            "",
        ]
    ),
    st.binary(max_size=300),
)
def test_any_bytes_give_arguments_or_an_api_error(ctype, body):
    try:
        assert isinstance(parse_body(ctype, body), dict)
    except ApiError as exc:
        assert exc.code.startswith("invalid_")


def test_bearer_token():
    assert bearer_token("Bearer xoxp-1") == "xoxp-1"
    assert bearer_token("bearer   xoxp-1 ") == "xoxp-1"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_args_accept_strings_and_json_values():
    args = Args(
        {
            "n": "5",
            "m": 7,
            "t": "true",
            "f": 0,
            "ts": "1640995200.5",
            "num_ts": 12.25,
            "l": "a, b,,c",
            "jl": ["x", "y"],
            "obj": '{"C1": 4}',
            "empty": "",
        }
    )
    assert args.int("n", default=0, lo=0, hi=10) == 5
    assert args.int("m", default=0, lo=0, hi=10) == 7
    assert args.int("missing", default=3, lo=0, hi=10) == 3
    assert args.bool("t") is True and args.bool("f") is False and args.bool("x") is False
    assert args.ts("ts") == 1_640_995_200_500_000
    assert args.ts("num_ts") == 12_250_000
    assert args.list("l") == ["a", "b", "c"] and args.list("jl") == ["x", "y"]
    assert args.json_object("obj") == {"C1": 4}
    assert args.str("empty") is None and args.str("m") == "7"
    assert not args.has("empty") and args.has("n")


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda a: a.int("n", default=0, lo=0, hi=3), "invalid_arguments"),
        (lambda a: a.int("b", default=0, lo=0, hi=3), "invalid_arguments"),
        (lambda a: a.int("n", default=0, lo=0, hi=3, code="invalid_limit"), "invalid_limit"),
        (lambda a: a.bool("s"), "invalid_arguments"),
        (lambda a: a.str("d"), "invalid_arguments"),
        (lambda a: a.str("s", max_len=3), "invalid_arguments"),
        (lambda a: a.str("missing", required=True, missing="no_text"), "no_text"),
        (lambda a: a.ts("s", invalid="invalid_ts_latest"), "invalid_ts_latest"),
        (lambda a: a.ts("b"), "invalid_arguments"),
        (lambda a: a.list("d"), "invalid_arguments"),
        (lambda a: a.json_object("s"), "invalid_arguments"),
        (lambda a: a.json_object("l"), "invalid_arguments"),
    ],
)
def test_args_refuse_unusable_values(call, code):
    args = Args({"n": "99", "b": True, "s": "sure", "d": {"x": 1}, "l": "[1]"})
    assert code_of(call, args) == code
