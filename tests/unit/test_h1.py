"""The HTTP/1.1 core (parley.api.h1): bytes in, requests and refusals out, bounds kept."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parley.api.h1 import (
    CONTINUE,
    DateHeader,
    Refusal,
    Request,
    RequestReader,
    encode_response,
    refusal_response,
)

MAX_BODY = 1000


def reader(**kw) -> RequestReader:
    kw.setdefault("max_header", 8192)
    kw.setdefault("max_headers", 100)
    kw.setdefault("max_body", MAX_BODY)
    return RequestReader(**kw)


def post(body: bytes, path: bytes = b"/api/chat.postMessage", extra: bytes = b"") -> bytes:
    return (
        b"POST "
        + path
        + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


def test_a_request_in_pieces_comes_out_whole_once():
    r = reader()
    raw = post(b'{"text":"hi"}', path=b"/api/chat.postMessage?channel=C1&x=%41")
    out = []
    for i in range(len(raw)):
        out += r.feed(raw[i : i + 1])
    [req] = out
    assert isinstance(req, Request)
    assert (req.method, req.path, req.query_string) == (
        "POST",
        "/api/chat.postMessage",
        "channel=C1&x=%41",
    )
    assert req.headers["content-type"] == "application/json" and req.body == b'{"text":"hi"}'
    assert req.keep_alive


def test_pipelined_requests_come_out_in_order_and_repeated_headers_join():
    r = reader()
    raw = (
        b"GET /a HTTP/1.1\r\nCookie: a=1\r\nCookie: b=2\r\nAccept: x\r\nAccept: y\r\n\r\n"
        + post(b"one")
        + b"GET /%7Euser HTTP/1.1\r\n\r\n"
    )
    a, b, c = r.feed(raw)
    assert (a.path, a.headers["cookie"], a.headers["accept"]) == ("/a", "a=1; b=2", "x, y")
    assert (b.method, b.body, c.path) == ("POST", b"one", "/~user")


def test_chunked_bodies_are_joined():
    r = reader()
    raw = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    [req] = r.feed(raw)
    assert req.body == b"abcde" and req.keep_alive


def test_http_1_0_and_connection_close_end_the_connection():
    for raw in (b"GET / HTTP/1.0\r\n\r\n", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"):
        r = reader()
        [req] = r.feed(raw + b"GET /next HTTP/1.1\r\n\r\n")
        assert not req.keep_alive  # and nothing after it is read
        assert r.feed(b"GET /more HTTP/1.1\r\n\r\n") == []


def test_a_body_over_max_body_is_dropped_and_the_connection_goes_on():
    r = reader()
    [big, small] = r.feed(post(b"x" * (MAX_BODY + 1)) + post(b"ok"))
    assert big.body is None and big.keep_alive
    assert small.body == b"ok"


def test_an_upload_path_takes_a_body_up_to_its_own_bound():
    r = reader(upload=("/files/upload/", 4 * MAX_BODY))
    file = b"f" * (3 * MAX_BODY)
    [up, other, over] = r.feed(
        post(file, b"/files/upload/F1/secret")
        + post(file)  # the same body elsewhere: over max_body
        + post(file + file, b"/files/upload/F2/secret")
    )
    assert up.body == file and other.body is None and over.body is None
    assert [up.keep_alive, other.keep_alive, over.keep_alive] == [True, True, True]


def test_a_chunked_body_over_max_body_is_dropped_too():
    r = reader()
    head = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunks = b"".join(b"%x\r\n%s\r\n" % (500, b"y" * 500) for _ in range(3)) + b"0\r\n\r\n"
    [req] = r.feed(head + chunks)
    assert req.body is None and req.keep_alive


def test_a_body_far_over_the_limit_is_answered_at_once_and_the_connection_closes():
    r = reader()
    out = r.feed(b"POST /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (16 * MAX_BODY + 1))
    [req] = out
    assert req.body is None and not req.keep_alive
    assert r.feed(b"z" * 10_000) == []
    # the same for a chunked body once it passes 16 times the limit
    r = reader()
    head = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    out = r.feed(head)
    for _ in range(40):
        out += r.feed(b"%x\r\n%s\r\n" % (500, b"y" * 500))
    [req] = out
    assert req.body is None and not req.keep_alive


def test_expect_100_continue():
    r = reader()
    head = b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    assert r.feed(head) == [CONTINUE]
    [req] = r.feed(b"ok")
    assert req.body == b"ok"
    # too large: no 100, the answer (413 from the app) comes now, then the connection closes
    r = reader()
    [req] = r.feed(b"POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
    assert req.body is None and not req.keep_alive


def test_oversized_heads_are_refused_431():
    cases = [
        b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"GET /" + b"p" * 9000 + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(101)) + b"\r\n",
    ]
    for raw in cases:
        out = reader().feed(raw)
        assert len(out) == 1 and isinstance(out[0], Refusal) and out[0].status == 431, raw[:40]


def test_an_endless_header_is_refused_before_the_parser_buffers_it():
    r = reader()
    out = r.feed(b"GET / HTTP/1.1\r\nX-Endless: ")
    for _ in range(100):
        out += r.feed(b"a" * 8192)
        if out:
            break
    assert [type(e) for e in out] == [Refusal] and out[0].status == 431
    assert r.feed(b"a" * 8192) == []


def test_many_small_pipelined_requests_in_one_read_are_not_counted_as_one_head():
    r = reader()
    raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 5000  # 180 KB in one read
    out = r.feed(raw + b"GET /last HTTP/1.1\r\nHost:")
    assert len(out) == 5000 and all(isinstance(e, Request) for e in out)
    [last] = r.feed(b" x\r\n\r\n")
    assert last.path == "/last"


def test_malformed_requests_are_refused_400():
    for raw in (
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ):
        out = reader().feed(raw)
        assert [type(e) for e in out] == [Refusal] and out[0].status == 400, raw


def test_an_upgrade_request_is_answered_as_http_and_nothing_after_it_is_read():
    r = reader()
    raw = b"GET /?ticket=t HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    [req] = r.feed(raw + b"\x81\x85garbage")
    assert req.path == "/" and not req.keep_alive
    assert r.feed(b"more") == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 50))
def test_any_bytes_give_requests_or_one_final_refusal(data, step):
    r = reader(max_header=8192)
    out = []
    for i in range(0, len(data), step):
        out += r.feed(data[i : i + step])
    refusals = [i for i, e in enumerate(out) if isinstance(e, Refusal)]
    assert refusals in ([], [len(out) - 1])
    assert all(isinstance(e, (Request, Refusal)) or e is CONTINUE for e in out)


def test_responses_are_encoded_with_length_date_and_no_header_splitting():
    date = DateHeader(clock=lambda: 0).line()
    assert date == b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
    out = encode_response(200, (("content-type", "application/json"),), b"{}", date=date)
    assert out == (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
        + date
        + b"\r\n{}"
    )
    head = encode_response(200, (), b"hello", date=date, head=True, close=True)
    assert head.endswith(b"connection: close\r\ncontent-length: 5\r\n" + date + b"\r\n")
    split = encode_response(200, (("x-a", "1\r\nset-cookie: evil=1"),), b"", date=date)
    assert b"\r\nset-cookie" not in split and b"x-a: 1  set-cookie: evil=1\r\n" in split
    refused = refusal_response(Refusal(431, "request_header_fields_too_large"), date)
    assert refused.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"connection: close" in refused and refused.endswith(
        b'{"ok":false,"error":"request_header_fields_too_large"}'
    )
