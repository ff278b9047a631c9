"""The pure rules of installing an app with OAuth (:mod:`parley.apps.oauth`)."""

from __future__ import annotations

import pytest

from parley.apps import oauth


def test_people_go_back_only_to_a_registered_url_or_below_it():
    urls = ["https://app.example/slack/back", "http://127.0.0.1:3000/cb"]
    allowed = oauth.redirect_allowed
    assert allowed("https://app.example/slack/back", urls)
    assert allowed("https://app.example/slack/back/team1?x=1", urls)
    assert allowed("http://127.0.0.1:3000/cb", urls)
    for uri in (
        "https://app.example/slack/backdoor",  # a sibling, not below
        "http://app.example/slack/back",  # another scheme
        "https://app.example:444/slack/back",  # another port
        "https://evil.example/slack/back",
        "https://app.example/slack/back/../../admin",
        "https://app.example/slack/back#frag",
        "javascript:alert(1)",
        "https://app.example/slack/back/" + "x" * 2000,
    ):
        assert not allowed(uri, urls), uri


def test_an_app_asks_only_for_what_it_registered_and_parley_grants():
    assert oauth.allowed_scopes("chat:write, commands,links:write", user=False) == (
        "chat:write,commands,links:write"
    )
    for scopes, user in (("admin:dlq", False), ("connections:write", False), ("links:read", True)):
        with pytest.raises(ValueError):
            oauth.allowed_scopes(scopes, user=user)
    with pytest.raises(ValueError):
        oauth.allowed_scopes("chat:write,no:such", user=False)
    assert oauth.requested("commands chat:write", "chat:write,commands") == "chat:write,commands"
    assert oauth.requested("", "chat:write") == ""
    with pytest.raises(ValueError):
        oauth.requested("chat:write,reactions:write", "chat:write")
    assert oauth.token_scopes("chat:write,commands,app_mentions:read") == "chat:write"


def test_the_way_back_keeps_the_apps_own_query():
    assert (
        oauth.back_to("https://a.example/cb", code="c", state="") == "https://a.example/cb?code=c"
    )
    assert oauth.back_to("https://a.example/cb?t=1", error="access_denied", state="s") == (
        "https://a.example/cb?t=1&error=access_denied&state=s"
    )


def test_secrets_are_kept_as_digests_and_compared_in_constant_time():
    secret = oauth.new_secret()
    assert len(secret) == 32 and oauth.same_secret(secret, oauth.digest(secret))
    assert not oauth.same_secret(secret + "x", oauth.digest(secret))
    assert oauth.form_key("xoxp-a") != oauth.form_key("xoxp-b")
    first, second = oauth.new_client_id().split(".")
    assert first.isdigit() and second.isdigit()


def test_sign_in_with_slack_tells_only_what_its_scopes_allow():
    from parley.apps import oidc
    from parley.storage.models import Team, User

    user = User("U1", "T1", "ann", "Ann Lee", False, None, None, 0, email="ann@example.com")
    team = Team("T1", "Acme", "acme", 0)
    only = oidc.about(user, team, frozenset({"openid"}), "http://h/")
    assert only == {
        "sub": "U1",
        "https://slack.com/user_id": "U1",
        "https://slack.com/team_id": "T1",
    }
    full = oidc.about(user, team, frozenset({"openid", "email", "profile"}), "http://h/")
    assert (full["email"], full["given_name"], full["family_name"]) == (
        "ann@example.com",
        "Ann",
        "Lee",
    )
    assert full["https://slack.com/team_domain"] == "acme" and full["picture"] == ""
    claims = oidc.claims(
        base_url="http://h:1/",
        client_id="1.2",
        user=user,
        team=team,
        scopes=frozenset({"openid"}),
        nonce="",
        now_s=1000,
    )
    assert (claims["iss"], claims["aud"], claims["exp"]) == ("http://h:1", "1.2", 1300)
    assert "nonce" not in claims  # none asked for
    assert oidc.jwk(65537 * 3, 65537)["e"] == "AQAB"
