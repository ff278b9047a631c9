"""The pages of an app's installation (``/oauth/v2/authorize``,
:mod:`parley.apps.installs`): the consent page, the sign-in page before it, and the
page that says why an authorization cannot go on. Pure: text in, HTML out, every value
escaped; the pages have no script, and their one style is allowed by ``nonce``."""

from __future__ import annotations

from html import escape

#: What a scope lets an app do, in words (others are shown by name).
_WORDS = {
    "channels:history": "View messages in public channels it is in",
    "channels:join": "Join public channels",
    "channels:manage": "Manage public channels",
    "channels:read": "View basic information about public channels",
    "chat:write": "Send messages",
    "commands": "Add shortcuts and slash commands",
    "app_mentions:read": "View messages that mention it",
    "files:read": "View files shared in channels and conversations it is in",
    "files:write": "Upload, edit and delete files",
    "groups:history": "View messages in private channels it is in",
    "groups:read": "View basic information about private channels it is in",
    "im:history": "View messages in direct messages it is in",
    "im:read": "View basic information about direct messages it is in",
    "im:write": "Start direct messages with people",
    "links:read": "View links to its websites in messages",
    "links:write": "Show previews of links to its websites",
    "mpim:history": "View messages in group direct messages it is in",
    "reactions:read": "View emoji reactions",
    "reactions:write": "Add and edit emoji reactions",
    "search:read": "Search the workspace's content",
    "users:read": "View people in the workspace",
    "users:read.email": "View people's email addresses",
    "openid": "Know who you are in this workspace",
    "email": "See your email address",
    "profile": "See your name and photo",
}

_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;"
    "color:#1d1c1d}h1{font-size:1.4rem}ul{padding-left:1.2rem}button{font:inherit;"
    "padding:.5rem 1.2rem;margin-right:.5rem;border-radius:4px;border:1px solid #888;"
    "cursor:pointer}button.allow{background:#007a5a;color:#fff;border-color:#007a5a}"
    "label{display:block;margin:.6rem 0}input{font:inherit;width:100%;padding:.3rem}"
    ".error{color:#b00}code{font-size:.9em}"
)


def _page(nonce: str, title: str, body: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Parley</title>"
        f'<style nonce="{escape(nonce)}">{_STYLE}</style></head>'
        f"<body>{body}</body></html>"
    ).encode()


def _hidden(fields: dict[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )


def _scope_list(granted: str) -> str:
    items = [
        f"<li>{escape(_WORDS.get(s, s))} <code>{escape(s)}</code></li>"
        for s in granted.split(",")
        if s
    ]
    return f"<ul>{''.join(items)}</ul>"


def consent(
    nonce: str,
    *,
    app: str,
    team: str,
    scopes: str,
    user_scopes: str,
    people: list[tuple[str, str, str]],
    request: dict[str, str],
    sign_in_with: bool = False,
) -> bytes:
    """What ``app`` asks of ``team``: its bot's ``scopes`` and, of the person
    installing it, ``user_scopes``; one Allow per person signed in (``(user id, name,
    form key)``), posting ``request`` back with ``decision``. ``sign_in_with``: the
    app asks to know who they are (Sign in with Slack), it joins nothing."""
    if sign_in_with:
        parts = [f"<h1>Sign in to {escape(app)} with {escape(team)}</h1>"]
    else:
        parts = [f"<h1>{escape(app)} wants to join {escape(team)}</h1>"]
    if scopes:
        parts.append(f"<p>As <b>@{escape(app)}</b>, it will be able to:</p>")
        parts.append(_scope_list(scopes))
    if user_scopes:
        it = "It will be able to:" if sign_in_with else "On your behalf, it will be able to:"
        parts.append(f"<p>{it}</p>")
        parts.append(_scope_list(user_scopes))
    for user_id, name, key in people:
        fields = {**request, "user": user_id, "form_key": key}
        parts.append(
            f'<form method="post">{_hidden(fields)}'
            f'<button class="allow" name="decision" value="allow">Allow as {escape(name)}</button>'
            '<button name="decision" value="deny">Cancel</button></form>'
        )
    return _page(nonce, f"Install {app}", "".join(parts))


def sign_in(nonce: str, *, app: str, team: str, request: dict[str, str], error: str) -> bytes:
    """Sign in to ``team`` to install ``app`` (``error``: why the last try failed)."""
    said = f'<p class="error">{escape(error)}</p>' if error else ""
    body = (
        f"<h1>Sign in to {escape(team)}</h1>"
        f"<p>to install <b>{escape(app)}</b>.</p>{said}"
        f'<form method="post">{_hidden({**request, "decision": "signin"})}'
        '<label>Username <input name="username" autocomplete="username" required></label>'
        '<label>Password <input name="password" type="password" '
        'autocomplete="current-password" required></label>'
        '<button class="allow">Sign in</button></form>'
    )
    return _page(nonce, "Sign in", body)


def refused(nonce: str, error: str, why: str) -> bytes:
    """Why the authorization cannot go on (``error``: Slack's code for it)."""
    body = (
        "<h1>This app cannot be installed</h1>"
        f"<p>{escape(why)}</p><p><code>{escape(error)}</code></p>"
    )
    return _page(nonce, "Cannot install", body)
