"""Installing an app with OAuth (:mod:`parley.apps.installs`): Bolt's own OAuth flow,
unmodified (its install page, state cookie, callback and installation store), against
Parley's consent page and ``oauth.v2.access``; a browser's part played by httpx (the
pages have no script), and the refusals Slack gives."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
from slack_sdk import WebClient

from parley import admin
from parley.api.request import basic_credentials
from parley.apps import oauth
from tests.helpers import (
    RunningServer,
    bolt_over_http,
    bolt_over_socket_mode,
    error_of,
    free_port,
    parley_cli,
    succeeds,
)
from tests.subscriber import wait_for

PASSWORD = "a password long enough"


def hidden(page: str) -> dict[str, str]:
    """The hidden fields of a page's first form."""
    form = page.split("<form", 1)[1].split("</form>", 1)[0]
    return {
        html.unescape(n): html.unescape(v)
        for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', form)
    }


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def registered(server: RunningServer, tag: str, redirect: str, **scopes: str):
    """A bot whose app people may install: ``(bot credentials, client id, secret)``."""
    bot = server.user(f"oauth-{tag}-app", bot=True)
    out = admin.register_oauth(
        server.settings,
        bot.user_id,
        [redirect],
        scopes.get("scopes", "chat:write,channels:read,commands"),
        scopes.get("user_scopes", "search:read"),
    )
    return bot, out["client_id"], out["client_secret"]


def allow(
    server: RunningServer,
    browser: httpx.Client,
    name: str,
    params: dict[str, str],
    page_path: str = "/oauth/v2/authorize",
) -> httpx.Response:
    """Signs ``name`` in on the consent page of ``params`` (if not yet) and allows:
    the redirect back to the app."""
    url = server.url + oauth.back_to(page_path, **params)
    page = browser.get(url)
    assert page.status_code == 200, page.text
    if 'name="password"' in page.text:
        signed = browser.post(
            url, data={**hidden(page.text), "username": name, "password": PASSWORD}
        )
        assert signed.status_code == 303, signed.text
        page = browser.get(server.url + signed.headers["location"])
    assert f"Allow as {name}" in page.text
    back = browser.post(url, data={**hidden(page.text), "decision": "allow"})
    assert back.status_code == 302, back.text
    return back


def bolt_app(server: RunningServer, client_id: str, secret: str, redirect: str, store, **oauth):
    """A Bolt app that people install with OAuth on ``server`` (its installations kept in
    ``store``; ``oauth``: more of ``OAuthSettings``, its bot's ``scopes`` among them); the
    person's scope ``search:read``. Its events, if any, come over Socket Mode."""
    from slack_bolt import App
    from slack_bolt.oauth.oauth_settings import OAuthSettings

    return App(
        signing_secret="not used: events come over Socket Mode, if at all",
        client=WebClient(base_url=f"{server.url}/api/"),
        oauth_settings=OAuthSettings(
            client_id=client_id,
            client_secret=secret,
            user_scopes=["search:read"],
            redirect_uri=redirect,
            authorization_url=f"{server.url}/oauth/v2/authorize",
            installation_store=store,
            **oauth,
        ),
    )


def test_bolts_oauth_flow_installs_the_app(server, tmp_path):
    """Bolt's install page sends the person to Parley's; they sign in, see what the app
    asks, allow; Bolt's callback exchanges the code and stores the installation, whose
    tokens work with exactly the scopes granted."""
    from slack_sdk.oauth.installation_store import FileInstallationStore
    from slack_sdk.oauth.state_store import FileOAuthStateStore

    port = free_port("127.0.0.1")
    redirect = f"http://127.0.0.1:{port}/slack/oauth_redirect"
    name = "oauth-flow-ann"
    ann = server.user(name, password=PASSWORD)
    bot, client_id, secret = registered(server, "flow", redirect)
    store = FileInstallationStore(base_dir=str(tmp_path / "installations"))
    app = bolt_app(
        server,
        client_id,
        secret,
        redirect,
        store,
        scopes=["chat:write", "commands"],
        state_store=FileOAuthStateStore(expiration_seconds=600, base_dir=str(tmp_path / "s")),
    )
    with bolt_over_http(app, port), httpx.Client() as browser:
        wait_for(lambda: succeeds(lambda: httpx.get(f"http://127.0.0.1:{port}/")), 10, "Bolt")
        install = browser.get(f"http://127.0.0.1:{port}/slack/install")
        # Bolt's state cookie is Secure, which a browser keeps only over https: kept here
        state = install.headers["set-cookie"].split(";", 1)[0].split("=", 1)
        browser.cookies.set(state[0], state[1], domain="127.0.0.1")
        link = html.unescape(re.search(r'href="([^"]+/oauth/v2/authorize[^"]*)"', install.text)[1])
        assert link.startswith(f"{server.url}/oauth/v2/authorize?")
        page = browser.get(link)  # no one signed in here: the sign-in form first
        assert page.status_code == 200 and 'name="password"' in page.text
        csp = page.headers["content-security-policy"]
        assert (
            "frame-ancestors 'none'" in csp and f"form-action 'self' http://127.0.0.1:{port}" in csp
        )
        wrong = browser.post(link, data={**hidden(page.text), "username": name, "password": "no"})
        assert wrong.status_code == 401 and "do not match" in wrong.text
        signed = browser.post(
            link, data={**hidden(page.text), "username": name, "password": PASSWORD}
        )
        assert signed.status_code == 303 and "ps_" in signed.headers["set-cookie"]
        page = browser.get(server.url + signed.headers["location"])
        assert "oauth-flow-app wants to join" in page.text
        assert "Send messages" in page.text and "search:read" in page.text
        back = browser.post(link, data={**hidden(page.text), "decision": "allow"})
        assert back.status_code == 302 and back.headers["location"].startswith(redirect + "?code=")
        done = browser.get(back.headers["location"])  # Bolt's callback: oauth.v2.access
        assert done.status_code == 200, done.text
    installed = store.find_installation(enterprise_id=None, team_id=ann.team_id)
    assert installed is not None and installed.bot_user_id == bot.user_id
    assert (installed.user_id, installed.app_id) == (ann.user_id, "A" + bot.bot_id[1:])
    assert installed.bot_scopes == ["chat:write", "commands"]
    as_bot = WebClient(token=installed.bot_token, base_url=f"{server.url}/api/")
    assert as_bot.auth_test()["scopes"] == "chat:write"  # "commands" is on no token
    assert error_of(as_bot.conversations_list) == "missing_scope"  # not asked for
    as_ann = WebClient(token=installed.user_token, base_url=f"{server.url}/api/")
    assert as_ann.auth_test()["user_id"] == ann.user_id
    assert as_ann.auth_test()["scopes"] == "search:read"
    assert error_of(as_ann.chat_postMessage, channel="C1", text="x") == "missing_scope"


def test_the_code_is_exchanged_once_by_its_app_with_its_secret(server):
    check_exchange(server, "emb")


def check_exchange(server: RunningServer, tag: str) -> None:
    """``oauth.v2.access``'s refusals: an unknown client, a wrong secret, a code not
    given, another app's, used, or named with another redirect URI."""
    redirect = f"http://127.0.0.1:9/{tag}/back"
    name = f"oauth-{tag}-ann"
    ann = server.user(name, password=PASSWORD)
    _, client_id, secret = registered(server, tag, redirect)
    _, other_id, other_secret = registered(server, f"{tag}-other", redirect)
    api = WebClient(base_url=f"{server.url}/api/")
    params = {"client_id": client_id, "scope": "chat:write", "redirect_uri": redirect}
    with httpx.Client() as browser:
        back = allow(server, browser, name, {**params, "state": "s1"})
        assert query(back.headers["location"])["state"] == "s1"
        code = query(back.headers["location"])["code"]
        exchange = api.oauth_v2_access  # client id and secret as HTTP Basic, as slack_sdk sends
        assert (
            error_of(exchange, client_id="1.2", client_secret=secret, code=code)
            == "invalid_client_id"
        )
        assert (
            error_of(exchange, client_id=client_id, client_secret="x", code=code)
            == "bad_client_secret"
        )
        assert error_of(exchange, client_id=other_id, client_secret=other_secret, code=code) == (
            "invalid_code"  # another app's code; and now spent
        )
        back = allow(server, browser, name, params)
        code = query(back.headers["location"])["code"]
        assert "state" not in query(back.headers["location"])
        assert (
            error_of(
                exchange,
                client_id=client_id,
                client_secret=secret,
                code=code,
                redirect_uri=redirect + "x",
            )
            == "bad_redirect_uri"
        )
        back = allow(server, browser, name, params)
        code = query(back.headers["location"])["code"]
        # as arguments too, as some clients send them
        answer = httpx.post(
            f"{server.url}/api/oauth.v2.access",
            data={
                "client_id": client_id,
                "client_secret": secret,
                "code": code,
                "redirect_uri": redirect,
            },
        ).json()
        assert answer["ok"] and answer["token_type"] == "bot" and answer["scope"] == "chat:write"
        assert answer["team"]["id"] == ann.team_id and answer["authed_user"] == {"id": ann.user_id}
        assert (
            error_of(
                exchange,
                client_id=client_id,
                client_secret=secret,
                code=code,
                redirect_uri=redirect,
            )
            == "invalid_code"
        )  # once only
        assert error_of(exchange, client_id=client_id, client_secret=secret) == "invalid_code"
    # uninstalled: the installation's token is revoked, the other app's untouched
    as_bot = WebClient(token=answer["access_token"], base_url=f"{server.url}/api/")
    assert as_bot.auth_test()["ok"]
    assert as_bot.apps_uninstall(client_id=client_id, client_secret=secret)["ok"]
    assert error_of(as_bot.auth_test) == "token_revoked"
    assert (
        error_of(server.client(ann.token).apps_uninstall, client_id=other_id, client_secret=secret)
        == "bad_client_secret"
    )


def test_the_consent_page_refuses_what_it_cannot_trust(server):
    """An unknown client or an unregistered redirect URI is told on the page, sent
    nowhere; scopes the app may not ask for go back as ``invalid_scope``; Cancel as
    ``access_denied``; an Allow without the session's form key (another site's form)
    or by someone not signed in is refused."""
    redirect = "http://127.0.0.1:9/refusals/back"
    name = "oauth-refusals-ann"
    server.user(name, password=PASSWORD)
    _, client_id, _ = registered(server, "refusals", redirect)
    url = f"{server.url}/oauth/v2/authorize"
    with httpx.Client() as browser:
        unknown = browser.get(url, params={"client_id": "9.9", "scope": "chat:write"})
        assert unknown.status_code == 400 and "invalid_client_id" in unknown.text
        elsewhere = {
            "client_id": client_id,
            "scope": "chat:write",
            "redirect_uri": "http://evil.example/",
        }
        page = browser.get(url, params=elsewhere)
        assert (
            page.status_code == 400
            and "bad_redirect_uri" in page.text
            and "location" not in page.headers
        )
        below = browser.get(url, params={**elsewhere, "redirect_uri": redirect + "/deeper"})
        assert below.status_code == 200  # a path below a registered one is allowed, as in Slack
        above = browser.get(url, params={**elsewhere, "redirect_uri": redirect + "/../../x"})
        assert above.status_code == 400
        for scope in ("chat:write,admin:dlq", "reactions:write", ""):
            asked = browser.get(url, params={"client_id": client_id, "scope": scope, "state": "z"})
            assert asked.status_code == 302
            assert query(asked.headers["location"]) == {"error": "invalid_scope", "state": "z"}
        params = {"client_id": client_id, "scope": "chat:write", "state": "q"}
        page = browser.get(url, params=params)
        signed = browser.post(
            url, data={**hidden(page.text), "username": name, "password": PASSWORD}
        )
        page = browser.get(server.url + signed.headers["location"])
        form = hidden(page.text)
        cancel = browser.post(url, data={**form, "decision": "deny"})
        assert query(cancel.headers["location"]) == {"error": "access_denied", "state": "q"}
        forged = browser.post(url, data={**form, "form_key": "0" * 64, "decision": "allow"})
        assert forged.status_code == 403 and "location" not in forged.headers
    with httpx.Client() as stranger:  # the right form, without ann's session
        refused = stranger.post(url, data={**form, "decision": "allow"})
        assert refused.status_code == 403 and "location" not in refused.headers


def test_an_operator_registers_lists_and_removes_an_apps_oauth(server):
    """``parley app oauth``: a client id and a secret printed once (again only with
    ``--new-secret``); ``app list`` shows the registration without it; ``app remove
    --part oauth`` ends it."""
    bot = server.user("oauth-cli-app", bot=True)
    args = ("app", "oauth", bot.user_id, "--redirect-url", "https://app.example/back")
    (first,) = parley_cli(server, *args, "--scopes", "chat:write")
    assert first["client_secret"] and first["scopes"] == "chat:write"
    (again,) = parley_cli(
        server, *args, "--scopes", "chat:write,commands", "--user-scopes", "search:read"
    )
    assert again["client_id"] == first["client_id"] and "client_secret" not in again
    (rotated,) = parley_cli(server, *args, "--scopes", "chat:write", "--new-secret")
    assert rotated["client_id"] == first["client_id"]
    assert rotated["client_secret"] not in ("", first["client_secret"])
    listed = [a for a in parley_cli(server, "app", "list") if a["user_id"] == bot.user_id]
    assert listed[0]["oauth"] == {
        "client_id": first["client_id"],
        "redirect_urls": ["https://app.example/back"],
        "scopes": "chat:write",
        "user_scopes": "",
    }
    api = WebClient(base_url=f"{server.url}/api/")

    def exchange_with(secret: str) -> str:
        return error_of(
            api.oauth_v2_access, client_id=first["client_id"], client_secret=secret, code="c"
        )

    assert exchange_with(first["client_secret"]) == "bad_client_secret"  # the old one
    parley_cli(server, "app", "remove", bot.user_id, "--part", "oauth")
    assert exchange_with(rotated["client_secret"]) == "invalid_client_id"


def test_basic_credentials_are_read_as_slack_sdk_sends_them():
    assert basic_credentials("Basic MTIzLjQ1NjpzM2NyZXQ=") == {
        "client_id": "123.456",
        "client_secret": "s3cret",
    }
    assert basic_credentials("Basic !!!") == basic_credentials("Bearer xoxb-1") == {}


def test_an_app_uninstalls_itself_and_bolt_forgets_its_installation(server, tmp_path):
    """``apps.uninstall`` revokes what the installations got (the operator's own token
    of the bot stays); the app hears ``tokens_revoked`` and ``app_uninstalled`` over
    Socket Mode, and Bolt's revocation listeners delete the installation."""
    from slack_sdk.oauth.installation_store import FileInstallationStore

    port = free_port("127.0.0.1")
    redirect = f"http://127.0.0.1:{port}/slack/oauth_redirect"
    name = "oauth-gone-ann"
    ann = server.user(name, password=PASSWORD)
    bot = server.user("oauth-gone-app", bot=True, app_token=True)
    registration = admin.register_oauth(
        server.settings, bot.user_id, [redirect], "chat:write", "search:read"
    )
    client_id, secret = registration["client_id"], registration["client_secret"]
    store = FileInstallationStore(base_dir=str(tmp_path / "installations"))
    app = bolt_app(
        server,
        client_id,
        secret,
        redirect,
        store,
        scopes=["chat:write"],
        state_validation_enabled=False,
    )
    heard: list[dict] = []
    app.event("tokens_revoked")(lambda event: heard.append(event))
    app.enable_token_revocation_listeners()
    with bolt_over_http(app, port), httpx.Client() as browser:
        wait_for(lambda: succeeds(lambda: httpx.get(f"http://127.0.0.1:{port}/")), 10, "Bolt")
        params = {"client_id": client_id, "scope": "chat:write", "user_scope": "search:read"}
        back = allow(server, browser, name, {**params, "redirect_uri": redirect})
        assert browser.get(back.headers["location"]).status_code == 200  # Bolt's callback
    installed = store.find_installation(enterprise_id=None, team_id=ann.team_id)
    assert installed is not None and installed.user_token
    as_bot = WebClient(token=installed.bot_token, base_url=f"{server.url}/api/")
    assert error_of(as_bot.apps_uninstall, client_id=client_id, client_secret="x") == (
        "bad_client_secret"
    )
    with bolt_over_socket_mode(app, bot.app_token):
        assert as_bot.apps_uninstall(client_id=client_id, client_secret=secret)["ok"]
        gone = lambda: store.find_installation(enterprise_id=None, team_id=ann.team_id) is None  # noqa: E731
        wait_for(gone, 10, "Bolt deleting the installation")
        wait_for(lambda: heard, 10, "tokens_revoked")
    assert heard[0]["tokens"] == {"oauth": [ann.user_id], "bot": [bot.user_id]}
    assert error_of(as_bot.auth_test) == "token_revoked"
    as_ann = WebClient(token=installed.user_token, base_url=f"{server.url}/api/")
    assert error_of(as_ann.auth_test) == "token_revoked"
    assert server.client(bot.token).auth_test()["ok"]  # the operator's token of the bot
    assert server.client(ann.token).auth_test()["ok"]  # and ann's own


def test_sign_in_with_slack(server):
    """Sign in with Slack, as slack_sdk and any OpenID Connect client do it: the consent
    page of ``/openid/connect/authorize``, ``openid.connect.token``'s id token checked
    against the published key and the discovery document, ``openid.connect.userInfo``;
    its codes and scopes kept apart from an installation's."""
    import jwt
    from slack_sdk.oauth import OpenIDConnectAuthorizeUrlGenerator

    redirect = "http://127.0.0.1:9/siws/back"
    name = "oidc-ann"
    ann = server.user(name, password=PASSWORD, email="ann@example.com")
    bot = server.user("oidc-app", bot=True)
    reg = admin.register_oauth(server.settings, bot.user_id, [redirect], "", "openid,email,profile")
    client_id, secret = reg["client_id"], reg["client_secret"]
    link = OpenIDConnectAuthorizeUrlGenerator(
        client_id=client_id,
        scopes=["openid", "email", "profile"],
        redirect_uri=redirect,
        authorization_url=f"{server.url}/openid/connect/authorize",
    ).generate(state="st", nonce="n-123")
    params = query(link)
    api = WebClient(base_url=f"{server.url}/api/")
    with httpx.Client() as browser:
        back = allow(server, browser, name, params, "/openid/connect/authorize")
        assert query(back.headers["location"])["state"] == "st"
        code = query(back.headers["location"])["code"]
        page = browser.get(link)
        assert "Sign in to oidc-app with" in page.text and "See your email address" in page.text
        # an installation's exchange does not take Sign in with Slack's code
        other = query(
            allow(server, browser, name, params, "/openid/connect/authorize").headers["location"]
        )
        assert (
            error_of(
                api.oauth_v2_access, client_id=client_id, client_secret=secret, code=other["code"]
            )
            == "invalid_code"
        )
        for wrong, error in (
            ({**params, "scope": "email profile"}, "invalid_scope"),  # openid missing
            ({**params, "response_type": "token"}, "unsupported_response_type"),
        ):
            refused = browser.get(server.url + oauth.back_to("/openid/connect/authorize", **wrong))
            assert query(refused.headers["location"])["error"] == error
        installing = {"client_id": client_id, "user_scope": "openid", "redirect_uri": redirect}
        refused = browser.get(server.url + oauth.back_to("/oauth/v2/authorize", **installing))
        assert query(refused.headers["location"])["error"] == "invalid_scope"
    answer = api.openid_connect_token(
        client_id=client_id, client_secret=secret, code=code, redirect_uri=redirect
    )
    assert answer["token_type"] == "Bearer"
    config = httpx.get(f"{server.url}/.well-known/openid-configuration").json()
    assert config["issuer"] == server.url
    assert config["jwks_uri"] == f"{server.url}/openid/connect/keys"
    key = jwt.PyJWKClient(config["jwks_uri"]).get_signing_key_from_jwt(answer["id_token"])
    claims = jwt.decode(
        answer["id_token"], key.key, algorithms=["RS256"], audience=client_id, issuer=server.url
    )
    assert claims["sub"] == ann.user_id and claims["nonce"] == "n-123"
    assert claims["https://slack.com/team_id"] == ann.team_id
    assert (claims["email"], claims["email_verified"], claims["name"]) == (
        "ann@example.com",
        True,
        name,
    )
    assert claims["exp"] - claims["iat"] == 300
    as_ann = WebClient(token=answer["access_token"], base_url=f"{server.url}/api/")
    info = as_ann.openid_connect_userInfo()
    assert (info["sub"], info["email"], info["https://slack.com/user_id"]) == (
        ann.user_id,
        "ann@example.com",
        ann.user_id,
    )
    assert error_of(as_ann.conversations_list) == "missing_scope"  # it can do nothing else
    assert error_of(server.client(ann.token).openid_connect_userInfo) == "missing_scope"
    assert (
        error_of(api.openid_connect_token, client_id=client_id, client_secret=secret, code=code)
        == "invalid_code"
    )  # once
