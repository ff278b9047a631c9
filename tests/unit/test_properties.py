"""Properties of the parsers at the trust boundary: whatever a client sends, they answer
with a value or a Slack error code (:class:`~parley.errors.ApiError`), never another
exception; what they accept round-trips.

Covers the HTTP request decoding (:mod:`parley.api.request`), argument access
(:mod:`parley.api.args`), pagination cursors, the RTM frame parser, ``resume`` and
permessage-deflate inflation. Examples are bounded so the suite stays fast.
"""

from __future__ import annotations

import json
import string
import typing
import uuid
from urllib.parse import urlencode

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley import cursors
from parley.api.args import Args
from parley.api.request import bearer_token, parse_body, parse_query
from parley.errors import ApiError
from parley.gateway import deflate, protocol
from parley.gateway.resume import MAX_RESUME_CHANNELS, parse_resume
from parley.ids import parse_ts

bounded = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ----------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)
# what an argument can hold: a JSON value (JSON body) or any string (query, form, multipart)
arg_values = json_values | st.floats() | st.text()

MIMES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
    "application/octet-stream",
    "",
]
content_types = st.one_of(
    st.sampled_from(MIMES),
    st.builds(
        lambda mime, params: mime + "".join(f"; {k}={v}" for k, v in params),
        st.sampled_from(MIMES),
        st.lists(
            st.tuples(
                st.sampled_from(["boundary", "charset", "x", ""]),
                st.text(max_size=20) | st.just('"quoted; boundary"'),
            ),
            max_size=3,
        ),
    ),
    st.text(max_size=60),
)


def multipart(fields: dict[str, str], boundary: str) -> bytes:
    body = b""
    for name, value in fields.items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    return body + f"--{boundary}--\r\n".encode()


def refuses_with_api_error_only(call, *args, **kwargs):
    """``call``'s result, or ``None`` if it raised :class:`ApiError` (anything else fails)."""
    try:
        return call(*args, **kwargs)
    except ApiError as exc:
        assert isinstance(exc.code, str) and exc.code
        assert 100 <= exc.status <= 599
        return None


# -- parley.api.request --------------------------------------------------------------------------


@bounded
@given(content_types, st.binary(max_size=400))
def test_any_body_and_content_type_give_a_dict_or_an_api_error(ctype, body):
    result = refuses_with_api_error_only(parse_body, ctype, body)
    assert result is None or isinstance(result, dict)


@bounded
@given(st.text(max_size=60), st.binary(max_size=400))
def test_multipart_with_any_boundary_and_body_never_raises_else(boundary, body):
    ctype = f"multipart/form-data; boundary={boundary}"
    result = refuses_with_api_error_only(parse_body, ctype, body)
    assert result is None or all(isinstance(k, str) for k in result)


@bounded
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_any_query_string_gives_string_arguments_or_an_api_error(query):
    result = refuses_with_api_error_only(parse_query, query)
    assert result is None or all(isinstance(v, str) for v in result.values())


fields = st.dictionaries(
    st.text(string.ascii_letters + "_", min_size=1, max_size=12),
    st.text(max_size=50).filter(lambda t: "\r" not in t and "\n" not in t),
    max_size=8,
)


@bounded
@given(fields)
def test_every_body_encoding_reads_back_the_same_arguments(data):
    if not data:
        return
    assert parse_body("application/json", orjson.dumps(data)) == data
    form = urlencode(data).encode()
    assert parse_body("application/x-www-form-urlencoded", form) == data
    assert parse_body("", form) == data
    boundary = f"----------{uuid.uuid4().hex}"
    body = multipart(data, boundary)
    assert parse_body(f"multipart/form-data; boundary={boundary}", body) == data


@bounded
@given(st.none() | st.text(max_size=80))
def test_bearer_token_is_none_or_a_stripped_nonempty_token(header):
    token = bearer_token(header)
    assert token is None or (token and token == token.strip())


@bounded
@given(st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=80))
def test_bearer_token_reads_back_the_token(token):
    assert bearer_token(f"Bearer {token}") == token
    assert bearer_token(f"bearer  {token} ") == token


# -- parley.api.args -----------------------------------------------------------------------------


@bounded
@given(arg_values, st.integers(0, 50))
def test_str_is_none_or_a_string_within_max_len(value, max_len):
    out = refuses_with_api_error_only(Args({"a": value}).str, "a", max_len=max_len)
    assert out is None or (isinstance(out, str) and len(out) <= max_len)


@bounded
@given(arg_values, st.integers(-1000, 1000), st.integers(0, 1 << 40))
def test_int_is_within_bounds_or_the_default(value, lo, span):
    hi = lo + span
    out = refuses_with_api_error_only(Args({"a": value}).int, "a", default=lo, lo=lo, hi=hi)
    assert out is None or (type(out) is int and lo <= out <= hi)


@bounded
@given(arg_values)
def test_bool_is_a_bool(value):
    out = refuses_with_api_error_only(Args({"a": value}).bool, "a")
    assert out is None or type(out) is bool


@bounded
@given(arg_values)
def test_ts_is_non_negative_microseconds(value):
    out = refuses_with_api_error_only(Args({"a": value}).ts, "a")
    assert out is None or (type(out) is int and 0 <= out < 10**18)


@bounded
@given(st.integers(0, 10**18 - 1))
def test_ts_reads_back_slacks_spelling(us):
    text = f"{us // 1_000_000}.{us % 1_000_000:06d}"
    assert parse_ts(text) == us
    assert Args({"a": text}).ts("a") == us


@bounded
@given(arg_values, st.integers(0, 20))
def test_list_is_stripped_nonempty_strings_within_max_items(value, max_items):
    out = refuses_with_api_error_only(Args({"a": value}).list, "a", max_items=max_items)
    assert out is None or (
        len(out) <= max_items and all(isinstance(i, str) and i and i == i.strip() for i in out)
    )


@bounded
@given(arg_values | json_values.map(lambda v: json.dumps(v)))
def test_json_object_is_none_or_a_dict(value):
    out = refuses_with_api_error_only(Args({"a": value}).json_object, "a")
    assert out is None or isinstance(out, dict)


# -- parley.cursors ------------------------------------------------------------------------------

kinds = st.sampled_from(["history", "replies", "channels", "members", "users"])


@bounded
@given(kinds, st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_decoding_any_text_gives_a_key_or_none(kind, text):
    key = cursors.decode(kind, text)
    assert key is None or (isinstance(key, str) and key)
    number = cursors.decode_int(kind, text)
    assert number is None or (type(number) is int and number >= 0)


@bounded
@given(kinds, kinds, st.text(min_size=1, max_size=100) | st.integers(0, (1 << 64) - 1))
def test_cursors_read_back_in_their_own_listing_only(kind, other, key):
    cursor = cursors.encode(kind, key)
    if len(cursor) > 256:
        assert cursors.decode(kind, cursor) is None
        return
    assert cursors.decode(kind, cursor) == str(key)
    if isinstance(key, int):
        assert cursors.decode_int(kind, cursor) == key
    if other != kind:
        assert cursors.decode(other, cursor) is None


# -- parley.gateway.protocol ---------------------------------------------------------------------

frame_types = st.sampled_from(
    ["message", "ping", "typing", "presence_sub", "presence_query", "pong", "", None]
)
frames = st.fixed_dictionaries(
    {"type": frame_types},
    optional={
        "id": json_values,
        "channel": json_values,
        "text": json_values,
        "thread_ts": json_values | st.sampled_from(["1700000000.000100", "1", "x"]),
        "client_msg_id": json_values,
        "reply_broadcast": json_values,
        "ids": json_values | st.lists(st.text(max_size=40), max_size=5),
    },
)


def assert_command(command: protocol.Command, data: bytes) -> None:
    """``command`` is one of :data:`protocol.Command`'s kinds; a reply is a JSON object, and
    a frame closes the connection only if it is not UTF-8 (RFC 6455 section 8.1)."""
    assert isinstance(command, typing.get_args(protocol.Command))
    if isinstance(command, protocol.Reply):
        assert isinstance(orjson.loads(command.data), dict)
    if not isinstance(
        command, (protocol.Send, protocol.Typing, protocol.PresenceSub, protocol.Reply)
    ):
        with pytest.raises(UnicodeDecodeError):
            data.decode()


@bounded
@given(st.binary(max_size=300))
def test_any_bytes_give_a_command_or_a_reply(data):
    assert_command(protocol.parse(data, max_text=100), data)


@bounded
@given(json_values)
def test_any_json_value_gives_a_command_or_a_reply(value):
    data = orjson.dumps(value)
    assert_command(protocol.parse(data, max_text=100), data)


@bounded
@given(frames, st.integers(0, 100))
def test_any_frame_gives_a_command_within_its_limits(frame, max_text):
    data = orjson.dumps(frame)
    command = protocol.parse(data, max_text=max_text)
    assert_command(command, data)
    if isinstance(command, protocol.Send):
        assert command.text is None or len(command.text) <= max_text
        assert command.channel is None or len(command.channel) <= 32
    if isinstance(command, protocol.PresenceSub):
        assert len(command.ids) <= protocol.MAX_PRESENCE_IDS


def test_a_deeply_nested_ping_is_answered():
    frame = b'{"type":"ping","id":1,"x":' + b"[" * 300 + b"]" * 300 + b"}"
    assert_command(protocol.parse(frame, max_text=100), frame)


# -- parley.gateway.resume -----------------------------------------------------------------------

# Python literals as slack_sdk sends them (``{'C1': 4}``), built as source text, with keys
# that are hashable; unhashable keys are tested below
literal_atoms = st.one_of(
    st.integers(-(1 << 70), 1 << 70).map(repr),
    st.text(max_size=10).map(repr),
    st.sampled_from(["None", "True", "False", "1.5", "-0", "1e999", "b'x'", "1j"]),
)
literals = st.recursive(
    literal_atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(inner, max_size=4).map(lambda xs: "(" + ", ".join(xs) + ",)"),
        st.lists(st.tuples(literal_atoms, inner), max_size=4).map(
            lambda kvs: "{" + ", ".join(f"{k}: {v}" for k, v in kvs) + "}"
        ),
    ),
    max_leaves=20,
)


def assert_resume(out) -> None:
    assert out is None or (
        isinstance(out, dict)
        and len(out) <= MAX_RESUME_CHANNELS
        and all(isinstance(c, str) and type(s) is int and 0 <= s < 1 << 62 for c, s in out.items())
    )


@bounded
@given(json_values | st.floats() | literals | st.text(max_size=100))
def test_any_resume_gives_channel_seqs_or_an_api_error(value):
    assert_resume(refuses_with_api_error_only(parse_resume, value))


@bounded
@given(st.dictionaries(st.text(min_size=1, max_size=32), st.integers(0, (1 << 62) - 1), max_size=5))
def test_resume_reads_back_as_object_json_and_python_literal(resume):
    assert parse_resume(resume) == resume
    assert parse_resume(json.dumps(resume)) == resume
    assert parse_resume(repr(resume)) == resume


@pytest.mark.parametrize("text", ["{[1]: 2}", "{(1, [2]): 3}", "{{1: 2}: 3}"])
def test_resume_with_an_unhashable_key_is_refused(text):
    assert_resume(refuses_with_api_error_only(parse_resume, text))


# -- parley.gateway.deflate ----------------------------------------------------------------------


@bounded
@given(st.binary(max_size=400), st.integers(0, 1 << 16))
def test_inflating_any_bytes_gives_at_most_max_size_or_none(data, max_size):
    out = deflate.decompress(data, max_size)
    assert out is None or (isinstance(out, bytes) and len(out) <= max_size)


@bounded
@given(st.binary(max_size=2000) | st.text(max_size=500).map(str.encode), st.integers(0, 3000))
def test_inflating_reads_back_within_the_limit_only(payload, max_size):
    out = deflate.decompress(deflate.compress(payload), max_size)
    assert out == (payload if len(payload) <= max_size else None)


@bounded
@given(st.integers(1, 1 << 12))
def test_a_bomb_is_refused(max_size):
    bomb = deflate.compress(b"\0" * (max_size * 100 + 1))
    assert deflate.decompress(bomb, max_size) is None
