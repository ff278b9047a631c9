"""Web sign-in: the session cookie, CSRF, sign-out, bad passwords, and the static app."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.helpers import server_in_thread

PASSWORD = "a long passphrase"


def request(server, path, body=None, *, cookie=None, client="web", method=None):
    headers = {"Content-Type": "application/json"}
    if client:
        headers["X-Parley-Client"] = client
    if cookie:
        headers["Cookie"] = cookie
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def sign_in(server, name, password=PASSWORD):
    return request(server, "/auth/signin", {"username": name, "password": password})


def test_sign_in_gives_an_httponly_samesite_cookie_that_works_with_the_client_header(server):
    server.user("sessioned", password=PASSWORD)
    status, headers, body = sign_in(server, "sessioned")
    me = json.loads(body)["user"]
    assert status == 200 and me["name"] == "sessioned"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"ps_{me['id']}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; Secure over TLS
    assert "xoxp-" not in body.decode()  # the token never reaches the page's script
    session = cookie.split(";")[0]
    status, _, body = request(server, "/api/auth.test", {}, cookie=session, client=me["id"])
    assert status == 200 and json.loads(body)["user"] == "sessioned"
    # the cookie alone (a cross-site form or image) authorizes nothing, nor with a header
    # that names no one or someone else
    for client in (None, "web", "UOTHER0000"):
        _, _, body = request(server, "/api/auth.test", {}, cookie=session, client=client)
        assert json.loads(body)["error"] == "not_authed", client
    # sign-out revokes the session
    status, headers, _ = request(server, "/auth/signout", {}, cookie=session, client=me["id"])
    assert status == 200 and "Max-Age=0" in headers["Set-Cookie"]
    _, _, body = request(server, "/api/auth.test", {}, cookie=session, client=me["id"])
    assert json.loads(body)["error"] == "token_revoked"


def test_one_browser_two_people(server):
    """Two sessions in one cookie jar: each request picks its own by the header."""
    first = server.user("first-person", password=PASSWORD)
    second = server.user("second-person", password=PASSWORD)
    jar = "; ".join(
        sign_in(server, name)[1]["Set-Cookie"].split(";")[0]
        for name in ("first-person", "second-person")
    )
    for creds, name in ((first, "first-person"), (second, "second-person")):
        _, _, body = request(server, "/api/auth.test", {}, cookie=jar, client=creds.user_id)
        assert json.loads(body)["user"] == name


def test_wrong_passwords_unknown_users_and_no_password_are_all_the_same_refusal(server):
    server.user("careful", password=PASSWORD)
    server.user("tokenonly")  # no password: cannot sign in
    for name, password in (("careful", "wrong"), ("nobody", PASSWORD), ("tokenonly", "")):
        status, headers, body = sign_in(server, name, password)
        assert (status, json.loads(body)) in (
            (401, {"ok": False, "error": "invalid_credentials"}),
            (200, {"ok": False, "error": "invalid_arguments"}),
        ), (name, status, body)
        assert "Set-Cookie" not in headers


def test_sign_in_attempts_are_rate_limited_per_username(server):
    server.user("guessed", password=PASSWORD)
    answers = [sign_in(server, "guessed", f"guess{i}")[0] for i in range(12)]
    assert 429 in answers and answers[0] == 401
    assert sign_in(server, "guessed")[0] == 429  # even the right one, until it refills


def test_sign_in_needs_the_client_header_and_post(server):
    status, _, _ = request(server, "/auth/signin", {"username": "x", "password": "y"}, client=None)
    assert status == 403
    status, _, _ = request(server, "/auth/signin", method="GET")
    assert status == 405


def test_the_app_is_served_with_a_strict_content_security_policy(server):
    status, headers, body = request(server, "/", method="GET", client=None)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    # the page may open a WebSocket to this server's gateway port only, not anywhere
    port = server.services.gateway_port
    assert f"connect-src 'self' ws://*:{port} wss://*:{port};" in csp
    assert b"/static/app.js" in body and b"http" not in body.replace(b"http-equiv", b"")
    for asset in ("/static/app.js", "/static/app.css"):
        status, headers, _ = request(server, asset, method="GET", client=None)
        assert status == 200 and headers["X-Content-Type-Options"] == "nosniff"
    assert request(server, "/static/nope.js", method="GET", client=None)[0] == 404


def test_behind_a_tls_proxy_the_cookie_is_secure(tmp_path):
    """``PARLEY_SECURE_COOKIES``: Parley listens in plain HTTP behind a TLS proxy and
    still marks the session cookie ``Secure`` (and clears it the same way)."""
    with server_in_thread(tmp_path / "data", secure_cookies=True) as srv:
        srv.user("proxied", password=PASSWORD)
        status, headers, body = sign_in(srv, "proxied")
        assert status == 200 and "; Secure" in headers["Set-Cookie"]
        me = json.loads(body)["user"]
        session = headers["Set-Cookie"].split(";")[0]
        _, headers, _ = request(srv, "/auth/signout", {}, cookie=session, client=me["id"])
        assert "; Secure" in headers["Set-Cookie"] and "Max-Age=0" in headers["Set-Cookie"]
