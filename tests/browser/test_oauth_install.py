"""Installing an app with OAuth in Chromium: Bolt's install page, Parley's sign-in and
consent pages (no script; a Content-Security-Policy that lets the form send the person
back to the app), Bolt's callback."""

from __future__ import annotations

from slack_sdk import WebClient

from parley import admin
from tests.helpers import TEST_RATE_LIMIT, bolt_over_http, free_port, server_in_thread, succeeds
from tests.subscriber import wait_for

PASSWORD = "correct horse battery"


def test_a_person_installs_an_app_from_its_install_page(browser, tmp_path):
    import httpx
    from slack_bolt import App
    from slack_bolt.oauth.oauth_settings import OAuthSettings
    from slack_sdk.oauth.installation_store import FileInstallationStore

    port = free_port("127.0.0.1")
    app_url = f"http://localhost:{port}"
    with server_in_thread(tmp_path / "data") as srv:
        ann = srv.user("ann", password=PASSWORD, rate_limit=TEST_RATE_LIMIT)
        bot = srv.user("tickets", bot=True)
        registration = admin.register_oauth(
            srv.settings, bot.user_id, [f"{app_url}/slack/oauth_redirect"], "chat:write"
        )
        store = FileInstallationStore(base_dir=str(tmp_path / "installations"))
        app = App(
            signing_secret="not used here",
            client=WebClient(base_url=f"{srv.url}/api/"),
            oauth_settings=OAuthSettings(
                client_id=registration["client_id"],
                client_secret=registration["client_secret"],
                scopes=["chat:write"],
                redirect_uri=f"{app_url}/slack/oauth_redirect",
                authorization_url=f"{srv.url}/oauth/v2/authorize",
                installation_store=store,
            ),
        )
        with bolt_over_http(app, port):
            wait_for(lambda: succeeds(lambda: httpx.get(f"{app_url}/")), 10, "Bolt's server")
            context = browser.new_context()
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{app_url}/slack/install")
            page.click("a[href*='/oauth/v2/authorize']")
            page.fill("input[name=username]", "ann")
            page.fill("input[name=password]", PASSWORD)
            page.click("button:has-text('Sign in')")
            page.wait_for_selector("text=tickets wants to join")
            assert page.is_visible("text=Send messages")
            page.click("button:has-text('Allow as ann')")
            page.wait_for_url(f"{app_url}/slack/oauth_redirect*")
            page.wait_for_selector("text=Thank you!")
            # nothing on Parley's pages was refused by their policy (the form's way back
            # to the app included); Bolt's own page loads Slack's images, offline here
            assert not [e for e in errors if "Content Security Policy" in e], errors
            context.close()
        installed = store.find_installation(enterprise_id=None, team_id=ann.team_id)
        assert installed is not None and installed.user_id == ann.user_id
        posted = WebClient(token=installed.bot_token, base_url=f"{srv.url}/api/").chat_postMessage(
            channel=ann.user_id, text="installed"
        )
        assert posted["ok"]
