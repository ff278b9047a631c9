"""Parley's HTTP/1.1 server shell (parley.api.h1server) over real sockets: order,
keep-alive, HEAD, 100-continue, timeouts, failures and a graceful close."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import uvloop

from parley.api.dispatch import Response
from parley.api.h1 import Request
from parley.api.h1server import HttpServer, listen


class App:
    """Answers ``{"path", "body"}``; ``/slow/<ms>`` waits first, ``/boom`` raises."""

    def __init__(self) -> None:
        self.finished: list[str] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, req: Request) -> Response:
        if req.path.startswith("/slow/"):
            await asyncio.sleep(int(req.path[6:]) / 1000)
        if req.path == "/gated":
            assert self.gate is not None
            await self.gate.wait()
        if req.path == "/boom":
            raise RuntimeError("boom")
        self.finished.append(req.path)
        body = None if req.body is None else req.body.decode()
        return Response(200, orjson.dumps({"path": req.path, "body": body}))


def run(scenario, **kw):
    """Runs ``scenario(server, app, port)`` against a server on a fresh port."""

    async def main():
        app = App()
        kw.setdefault("header_timeout", 10.0)
        server = HttpServer(app, max_header=8192, max_body=1000, **kw)
        sock = listen("127.0.0.1", 0)
        port = sock.getsockname()[1]
        await server.start(sock)
        try:
            await asyncio.wait_for(scenario(server, app, port), 20)
        finally:
            await server.close(grace=1)

    uvloop.run(main())


async def read_response(reader: asyncio.StreamReader, head: bool = False):
    """(status, headers, body) of the next response."""
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    length = 0 if head or status == 100 else int(headers["content-length"])
    body = await reader.readexactly(length)
    return status, headers, body


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closed the connection (EOF or reset) without sending more."""
    try:
        return await reader.read(1) == b""
    except ConnectionResetError:
        return True


def test_pipelined_requests_are_answered_in_order_on_one_connection():
    async def scenario(server, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"GET /slow/50 HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n"
            b"POST /post HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
        )
        paths = []
        for _ in range(3):
            status, headers, body = await read_response(reader)
            assert status == 200 and "date" in headers and "connection" not in headers
            paths.append(orjson.loads(body)["path"])
        assert paths == ["/slow/50", "/fast", "/post"]
        # the connection is kept alive for more
        writer.write(b"GET /again HTTP/1.1\r\n\r\n")
        assert orjson.loads((await read_response(reader))[2])["path"] == "/again"
        writer.close()

    run(scenario)


def test_many_pipelined_requests_are_all_answered():
    async def scenario(server, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(b"GET /n%d HTTP/1.1\r\n\r\n" % i for i in range(200)))
        for i in range(200):
            assert orjson.loads((await read_response(reader))[2])["path"] == f"/n{i}"
        writer.close()

    run(scenario)


def test_head_gets_the_headers_without_the_body():
    async def scenario(server, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HEAD /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\n")
        status, headers, body = await read_response(reader, head=True)
        assert status == 200 and int(headers["content-length"]) > 0 and body == b""
        assert orjson.loads((await read_response(reader))[2])["path"] == "/y"
        writer.close()

    run(scenario)


def test_expect_100_continue_gets_a_100_then_the_answer():
    async def scenario(server, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        assert (await read_response(reader))[0] == 100
        writer.write(b"body")
        status, _, body = await read_response(reader)
        assert status == 200 and orjson.loads(body)["body"] == "body"
        writer.close()

    run(scenario)


def test_http_1_0_and_bad_requests_close_the_connection():
    async def scenario(server, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /old HTTP/1.0\r\n\r\n")
        status, headers, _ = await read_response(reader)
        assert status == 200 and headers["connection"] == "close"
        assert await closed(reader)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /ok HTTP/1.1\r\n\r\nNOT HTTP\r\n\r\n")
        assert (await read_response(reader))[0] == 200
        status, headers, body = await read_response(reader)
        assert (status, orjson.loads(body)["error"]) == (400, "invalid_request")
        assert headers["connection"] == "close" and await closed(reader)

    run(scenario)


def test_an_app_failure_is_a_500_on_that_connection_only():
    async def scenario(server, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        other_reader, other = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /boom HTTP/1.1\r\n\r\n")
        status, headers, body = await read_response(reader)
        assert (status, orjson.loads(body)["error"]) == (500, "fatal_error")
        assert headers["connection"] == "close" and await closed(reader)
        other.write(b"GET /fine HTTP/1.1\r\n\r\n")
        assert (await read_response(other_reader))[0] == 200
        other.close()

    run(scenario)


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"GET / HTTP/1.1\r\nHost: x\r\n",
        b"GET /first HTTP/1.1\r\n\r\n",
        b"POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\nab",
    ],
    ids=["silent", "half-a-head", "idle-after-an-answer", "a-stalled-body"],
)
def test_a_connection_without_a_whole_head_in_time_is_closed(sent):
    async def scenario(server, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(sent)
        if sent.endswith(b"\r\n\r\n"):
            assert (await read_response(reader))[0] == 200
        assert await asyncio.wait_for(closed(reader), 5)

    run(scenario, header_timeout=0.3)


def test_a_body_that_keeps_coming_is_not_cut_off():
    async def scenario(server, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /slowly HTTP/1.1\r\nContent-Length: 6\r\n\r\n")
        for byte in b"123456":  # 1.5 s in all, a byte every quarter of the timeout
            await asyncio.sleep(0.25)
            writer.write(bytes([byte]))
        status, _, body = await read_response(reader)
        assert status == 200 and orjson.loads(body)["body"] == "123456"
        writer.close()

    run(scenario, header_timeout=1.0)


def test_no_timeout_runs_while_the_app_answers():
    async def scenario(server, app, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow/800 HTTP/1.1\r\n\r\n")
        assert (await read_response(reader))[0] == 200
        writer.close()

    run(scenario, header_timeout=0.3)


def test_a_request_whose_client_left_still_runs_to_the_end():
    async def scenario(server, app, port):
        app.gate = asyncio.Event()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /gated HTTP/1.1\r\n\r\nGET /behind HTTP/1.1\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.transport.abort()
        await asyncio.sleep(0.1)
        app.gate.set()
        for _ in range(50):
            if app.finished:
                break
            await asyncio.sleep(0.02)
        assert app.finished == ["/gated"]  # the pipelined one behind it was dropped

    run(scenario)


def test_close_ends_idle_connections_and_lets_a_request_in_progress_finish():
    async def scenario(server, app, port):
        app.gate = asyncio.Event()
        idle_reader, _ = await asyncio.open_connection("127.0.0.1", port)
        busy_reader, busy = await asyncio.open_connection("127.0.0.1", port)
        busy.write(b"GET /gated HTTP/1.1\r\n\r\n")
        await asyncio.sleep(0.1)
        closing = asyncio.create_task(server.close(grace=5))
        assert await asyncio.wait_for(closed(idle_reader), 5)
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        app.gate.set()
        status, headers, _ = await read_response(busy_reader)
        assert status == 200 and headers["connection"] == "close"
        assert await closed(busy_reader)
        await closing

    run(scenario)


def test_winding_down_answers_everything_and_closes_each_connection_after_its_answer():
    """What a load balancer holding connections to a draining node sees: a connection it
    kept idle, one in the middle of a request and a new one are all answered, each with
    ``connection: close`` and then closed; nothing is refused or cut off."""

    async def scenario(server, app, port):
        app.gate = asyncio.Event()
        kept_reader, kept = await asyncio.open_connection("127.0.0.1", port)
        kept.write(b"GET /before HTTP/1.1\r\n\r\n")
        status, headers, _ = await read_response(kept_reader)
        assert status == 200 and "connection" not in headers  # kept alive
        busy_reader, busy = await asyncio.open_connection("127.0.0.1", port)
        busy.write(b"GET /gated HTTP/1.1\r\n\r\n")
        await asyncio.sleep(0.1)

        server.wind_down()
        await asyncio.sleep(0.1)
        kept.write(b"GET /after HTTP/1.1\r\n\r\n")  # the idle connection was not closed
        new_reader, new = await asyncio.open_connection("127.0.0.1", port)  # still listening
        new.write(b"GET /new HTTP/1.1\r\n\r\n")
        app.gate.set()
        for reader in (kept_reader, busy_reader, new_reader):
            status, headers, _ = await read_response(reader)
            assert status == 200 and headers["connection"] == "close"
            assert await closed(reader)
        assert sorted(app.finished) == ["/after", "/before", "/gated", "/new"]
        for w in (kept, busy, new):
            w.close()

    run(scenario)
