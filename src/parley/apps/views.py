"""Modals: an app opens one for a person (``views.open`` with a command's or a button's
``trigger_id``, :mod:`parley.apps.triggers`), the person fills it in and submits it, and
the app gets Slack's ``view_submission`` payload, as Bolt's ``@app.view(...)`` expects.

- **Open** (``views.open``, the app's bot token): a ``modal`` view (:func:`parse_view`)
  gets an id (``V…``), is kept in the directory, and goes to the person's connections
  (Parley's RTM event ``view_opened``, without its ``private_metadata``, which is the
  app's). ``views.update`` (by ``view_id`` or ``external_id``, with ``hash`` checked when
  given: ``hash_conflict``) replaces it, as ``view_updated``.
- **Stack** (``views.push``, with a trigger from an interaction inside an open modal):
  a modal on top of that one (its ``previous_view_id``; ``view_opened``), at most
  :data:`MAX_STACK` deep. Submitting or closing the top one goes back to the one under
  it, which is still open.
- **Submit** (Parley's ``views.submit``, the person's token): the values of the view's
  ``input`` blocks (``plain_text_input``, ``static_select``), checked against the view
  as stored: an unknown block or action, an option the menu does not have, a required
  input left empty (answered ``{"errors": ...}`` at once, as Slack's client does). The
  app gets ``view_submission`` (``view.state.values``, ``callback_id``,
  ``private_metadata``), over Socket Mode (an ``interactive`` envelope whose
  acknowledgement's ``payload`` is the answer) or POSTed to its interactivity URL (the
  answer is the body). The answer's ``response_action``: none closes the view
  (``view_closed``), ``clear`` closes its whole stack, the first first; ``errors``
  shows them by block (``view_errors``); ``update`` replaces the view with the one it
  gives (``view_updated``), ``push`` puts that one on top (``view_opened``).
- **Press** (Parley's ``views.action``): a button of the modal, or an option of one of
  its menus (in an ``actions`` block or a ``section``'s accessory; as a message's,
  :mod:`parley.apps.actions`); the app gets ``block_actions`` with the view and its
  inputs' values so far (Bolt's ``@app.action``), and may change the view
  (``views.update``).
- **Close** (Parley's ``views.close``): the person closes it; a closed view takes no
  submission (``view_not_found``). An app whose view asked (``notify_on_close``) gets
  Slack's ``view_closed`` payload (Bolt's ``@app.view_closed``).
- **Home tab** (``views.publish``, the app's bot token): the app keeps one ``home`` view
  for each person (its id derived from the app and the person, :func:`home_id`; kept
  until replaced, not forgotten after a day as modals are). The person opens it
  (Parley's ``views.home``): they get the view, the app gets Slack's
  ``app_home_opened`` (``tab`` ``home``, the ``view`` when there is one, ``channel`` the
  person's direct message with the bot), and a button in it reaches the app as a
  modal's does (``block_actions``, with a ``trigger_id`` for ``views.open``). The
  person's connections that follow that direct message get ``view_updated`` when the
  app publishes or updates it. It has no inputs and is never submitted or closed.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import orjson

from parley.api.methods.ims import im_id
from parley.apps.actions import ACTION_NOT_FOUND, element_action, find_element
from parley.apps.callback import app_id
from parley.apps.link import AppLink, interact
from parley.apps.triggers import Triggers
from parley.bus.interface import EventBus
from parley.errors import ApiError, Code
from parley.ids import Kind, Snowflake, encode_id
from parley.pipeline import events
from parley.storage.interface import Directory
from parley.storage.models import AppView, Channel, User

log = logging.getLogger(__name__)

MAX_TITLE = 24
MAX_BLOCKS = 100
MAX_METADATA = 3000
MAX_VALUE = 3000
#: Seconds a view is kept after it was last written.
VIEW_TTL = 24 * 3600
#: The most modals a stack holds (Slack's): one opened and two pushed onto it.
MAX_STACK = 3
#: The input elements a modal may hold.
ELEMENTS = frozenset({"plain_text_input", "static_select"})
VIEW_NOT_FOUND = "view_not_found"
INVALID_TRIGGER, PUSH_LIMIT = "invalid_trigger_id", "push_limit_reached"
OPENED, UPDATED = events.VIEW_OPENED, events.VIEW_UPDATED
ERRORS, CLOSED = events.VIEW_ERRORS, events.VIEW_CLOSED


def _bad(detail: str) -> ApiError:
    return ApiError(Code.INVALID_ARGUMENTS, data={"arg": "view", "detail": detail})


def _plain(value: Any, name: str, longest: int, required: bool) -> dict | None:
    if value is None and not required:
        return None
    if (
        not isinstance(value, dict)
        or value.get("type") != "plain_text"
        or not isinstance(value.get("text"), str)
        or not 0 < len(value["text"]) <= longest
    ):
        raise _bad(f"{name}: plain_text of 1 to {longest} characters")
    return value


def parse_view(raw: Any, kind: str = "modal") -> dict[str, Any]:
    """A view of type ``kind`` (``modal``, or ``home`` for a home tab) as an app gives
    it (an object, or its JSON text), checked: a modal's ``title`` (and ``submit``,
    ``close``) ``plain_text`` of at most :data:`MAX_TITLE` characters, ``submit`` when
    it has inputs; at most :data:`MAX_BLOCKS` blocks, each input's ``element`` one of
    :data:`ELEMENTS` with an ``action_id`` (given ids are kept; missing ones are made,
    as Slack makes them), and none in a home tab, which nobody submits;
    ``private_metadata`` of at most :data:`MAX_METADATA` characters."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _bad("not JSON") from None
    if not isinstance(raw, dict) or raw.get("type") != kind:
        raise _bad(f"a view of type {kind}")
    view = dict(raw)
    modal = kind == "modal"
    _plain(view.get("title"), "title", MAX_TITLE, modal)
    _plain(view.get("submit"), "submit", MAX_TITLE, False)
    _plain(view.get("close"), "close", MAX_TITLE, False)
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= MAX_BLOCKS:
        raise _bad(f"blocks: 1 to {MAX_BLOCKS}")
    checked = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _bad(f"blocks[{i}]: an object with a type")
        block = dict(block)
        if block["type"] == "input":
            if not modal:
                raise _bad(f"blocks[{i}]: inputs are for modals")
            element = block.get("element")
            if not isinstance(element, dict) or element.get("type") not in ELEMENTS:
                raise _bad(f"blocks[{i}].element: one of {sorted(ELEMENTS)}")
            _plain(block.get("label"), f"blocks[{i}].label", 2000, True)
            block.setdefault("block_id", f"b{i}")
            block["element"] = {"action_id": f"a{i}", **element}
            if element["type"] == "static_select" and not _options(block["element"]):
                raise _bad(f"blocks[{i}].element: options")
        checked.append(block)
    view["blocks"] = checked
    if any(b["type"] == "input" for b in checked) and "submit" not in view:
        raise _bad("submit: required when the view has inputs")
    metadata = view.get("private_metadata", "")
    if not isinstance(metadata, str) or len(metadata) > MAX_METADATA:
        raise _bad(f"private_metadata: a string of at most {MAX_METADATA} characters")
    for name in ("callback_id", "external_id"):
        if not isinstance(view.get(name, ""), str) or len(view.get(name, "")) > 255:
            raise _bad(f"{name}: a string of at most 255 characters")
    return view


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = element.get("options")
    return [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []


def submitted(view: dict[str, Any], raw: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``state.values`` of a submission (``{block_id: {action_id: value}}``, as the
    person's client sends them: a string for a text input, an option's ``value`` for a
    menu) checked against ``view``'s inputs, and the errors by block (a required input
    left empty, an option the menu does not have)."""
    given = raw if isinstance(raw, dict) else {}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        block_id, element = block["block_id"], block["element"]
        action_id, kind = element["action_id"], element["type"]
        entry = given.get(block_id, {})
        value = entry.get(action_id) if isinstance(entry, dict) else None
        value = value if isinstance(value, str) and value != "" else None
        if kind == "plain_text_input":
            if value is not None and len(value) > MAX_VALUE:
                errors[block_id] = f"at most {MAX_VALUE} characters"
                continue
            state: dict[str, Any] = {"type": kind, "value": value}
        else:
            chosen = next((o for o in _options(element) if o.get("value") == value), None)
            if value is not None and chosen is None:
                errors[block_id] = "not one of the options"
                continue
            state = {"type": kind, "selected_option": chosen}
        if value is None and not block.get("optional", False):
            errors[block_id] = "required"
            continue
        values[block_id] = {action_id: state}
    return values, errors


def home_id(team_id: str, app_user_id: str, user_id: str) -> str:
    """The id of the home tab of ``app_user_id``'s app for ``user_id``: the same on
    every node, so publishing it again replaces it."""
    digest = hashlib.sha256(f"home:{team_id}:{app_user_id}:{user_id}".encode()).digest()
    return encode_id(Kind.VIEW, int.from_bytes(digest[:8], "big") >> 1)


def shown(v: AppView) -> dict[str, Any]:
    """``v`` as the person's client gets it: without the app's ``private_metadata``."""
    body = orjson.loads(v.body)
    body.pop("private_metadata", None)
    return {**body, "id": v.id, "hash": v.hash, "previous_view_id": v.previous_id or None}


def view_object(v: AppView, bot: User, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """``v`` as Slack shows it to the app (``views.open``'s answer, ``view_submission``)."""
    body = orjson.loads(v.body)
    return {
        "id": v.id,
        "team_id": v.team_id,
        "type": "home" if v.home else "modal",
        "title": body.get("title"),
        "submit": body.get("submit"),
        "close": body.get("close"),
        "blocks": body["blocks"],
        "private_metadata": body.get("private_metadata", ""),
        "callback_id": body.get("callback_id", ""),
        "external_id": v.external_id,
        "state": {"values": values or {}},
        "hash": v.hash,
        "clear_on_close": bool(body.get("clear_on_close", False)),
        "notify_on_close": bool(body.get("notify_on_close", False)),
        "root_view_id": v.root_id or v.id,
        "previous_view_id": v.previous_id or None,
        "app_id": app_id(bot),
        "app_installed_team_id": v.team_id,
        "bot_id": bot.bot_id or "",
    }


def _hash() -> str:
    return f"{int(time.time())}.{secrets.token_hex(6)}"


class Views:
    """Modals (see the module)."""

    def __init__(
        self,
        *,
        directory: Directory,
        bus: EventBus,
        link: AppLink,
        triggers: Triggers,
        ids: Snowflake,
        now_us: Callable[[], int],
    ) -> None:
        self._directory = directory
        self._bus = bus
        self._link = link
        self._triggers = triggers
        self._ids = ids
        self._now_us = now_us

    async def open(self, bot: User, trigger_id: str | None, raw: Any) -> dict[str, Any]:
        """``views.open``: the view as the app sees it."""
        user_id, channel_id, _in_view = await self._triggers.check(trigger_id, bot.id)
        body = parse_view(raw)
        await self._triggers.spend(trigger_id or "")
        v = await self._show(bot.team_id, bot.id, user_id, channel_id, body)
        return view_object(v, bot)

    async def push(self, bot: User, trigger_id: str | None, raw: Any) -> dict[str, Any]:
        """``views.push``: a modal on top of the one whose interaction gave the trigger
        (``invalid_trigger_id`` for a trigger from outside an open modal of the app's),
        at most :data:`MAX_STACK` deep (``push_limit_reached``); the view as the app
        sees it. Closing or submitting it goes back to the one under it."""
        user_id, channel_id, under_id = await self._triggers.check(trigger_id, bot.id)
        under = await self._directory.view(under_id) if under_id else None
        if under is None or under.closed or under.home or under.app_user_id != bot.id:
            raise ApiError(INVALID_TRIGGER, data={"detail": "not from an open modal"})
        body = parse_view(raw)
        if len(await self._stack(under)) >= MAX_STACK:
            raise ApiError(PUSH_LIMIT)
        await self._triggers.spend(trigger_id or "")
        v = await self._show(bot.team_id, bot.id, user_id, channel_id, body, under)
        return view_object(v, bot)

    async def _show(
        self,
        team_id: str,
        app_user_id: str,
        user_id: str,
        channel_id: str,
        body: dict,
        under: AppView | None = None,
    ) -> AppView:
        """A new modal of ``app_user_id``'s app for ``user_id`` (who acted in
        ``channel_id``), pushed onto ``under`` if given, stored and shown
        (``view_opened``)."""
        v = AppView(
            id=encode_id(Kind.VIEW, self._ids.next()),
            team_id=team_id,
            user_id=user_id,
            app_user_id=app_user_id,
            channel_id=channel_id,
            body=orjson.dumps(body).decode(),
            hash=_hash(),
            external_id=body.get("external_id", ""),
            previous_id=under.id if under else "",
            root_id=(under.root_id or under.id) if under else "",
        )
        await self._put(v)
        self._tell(v, OPENED, {"view": shown(v)})
        return v

    async def _stack(self, top: AppView) -> list[AppView]:
        """``top`` and the open modals under it, the first of the stack first."""
        stack = [top]
        while stack[0].previous_id and len(stack) <= MAX_STACK:
            under = await self._directory.view(stack[0].previous_id)
            if under is None or under.closed:
                break
            stack.insert(0, under)
        return stack

    async def update(
        self,
        bot: User,
        view_id: str | None,
        external_id: str | None,
        raw: Any,
        expected_hash: str | None,
    ) -> dict[str, Any]:
        """``views.update``: the view as the app now sees it."""
        v = await self._of_app(bot, view_id, external_id)
        if expected_hash and expected_hash != v.hash:
            raise ApiError("hash_conflict")
        v = await self._replace(v, parse_view(raw, "home" if v.home else "modal"))
        return view_object(v, bot)

    async def publish(
        self, bot: User, user_id: str | None, raw: Any, expected_hash: str | None
    ) -> dict[str, Any]:
        """``views.publish``: the app's home tab for ``user_id`` (a live person of the
        bot's workspace: ``user_not_found``), new or replaced (with ``expected_hash``,
        only if unchanged since: ``hash_conflict``); the view as the app now sees it."""
        user = await self._directory.user(user_id) if user_id else None
        if user is None or user.team_id != bot.team_id or user.deleted or user.is_bot:
            raise ApiError(Code.USER_NOT_FOUND)
        body = parse_view(raw, "home")
        ident = home_id(bot.team_id, bot.id, user.id)
        old = await self._directory.view(ident)
        if expected_hash and old is not None and expected_hash != old.hash:
            raise ApiError("hash_conflict")
        if old is not None:
            return view_object(await self._replace(old, body), bot)
        v = AppView(
            id=ident,
            team_id=bot.team_id,
            user_id=user.id,
            app_user_id=bot.id,
            channel_id=im_id(bot.team_id, user.id, bot.id),
            body=orjson.dumps(body).decode(),
            hash=_hash(),
            external_id=body.get("external_id", ""),
            home=True,
        )
        await self._put(v)
        self._tell(v, UPDATED, {"view": shown(v)})
        return view_object(v, bot)

    async def home(self, user: User, bot: User, channel_id: str) -> dict[str, Any] | None:
        """Parley's ``views.home``: ``user`` opens the home tab of ``bot``'s app, from
        their direct message with it, ``channel_id`` (opened by the caller). The app
        gets ``app_home_opened``; the view as the person sees it, ``None`` while the app
        has published none."""
        v = await self._directory.view(home_id(bot.team_id, bot.id, user.id))
        app_view = view_object(v, bot) if v is not None else None
        at = self._now_us()
        self._bus.publish(
            events.app_home_opened(channel_id, bot.team_id, user.id, bot.id, at, app_view)
        )
        return shown(v) if v is not None else None

    async def submit(self, user: User, view_id: str | None, raw: Any) -> dict[str, Any]:
        """``views.submit`` (Parley's): ``{"errors": ...}`` when the values do not fit
        the view (nothing is sent), else ``{}`` once the app has the submission."""
        v = await self._shown_to(user, view_id, modal=True)
        body = orjson.loads(v.body)
        values, errors = submitted(body, raw)
        if errors:
            return {"errors": errors}
        bot = await self._directory.user(v.app_user_id)
        if bot is None or bot.deleted:
            raise ApiError(VIEW_NOT_FOUND)
        fields = {
            **self._payload("view_submission", user, bot),
            "trigger_id": await self._triggers.issue(user.id, v.channel_id, bot.id, v.id),
            "view": view_object(v, bot, values),
            "response_urls": [],
        }
        answer = await self._send(v, bot, fields, answers=True)
        if answer is not None:
            await self.answered(v.id, answer)
        return {}

    async def press(
        self,
        user: User,
        view_id: str | None,
        action_id: str | None,
        block_id: str | None,
        value: str | None,
        raw: Any,
    ) -> None:
        """``views.action`` (Parley's): ``user`` presses the button ``action_id`` of a
        modal or home tab shown to them, or picks the option ``value`` of its menu
        (``action_not_found``; as :func:`.element_action` checks it), its inputs as
        filled in so far (``raw``, as :meth:`submit` takes them; what does not fit is
        left out). The app gets ``block_actions`` with the view, and may answer with
        ``views.update``."""
        v = await self._shown_to(user, view_id)
        found = find_element(v.body, action_id or "", block_id)
        bot = await self._directory.user(v.app_user_id)
        if found is None or bot is None or bot.deleted:
            raise ApiError(ACTION_NOT_FOUND)
        action = element_action(found[1], found[0], self._now_us(), value)
        values, _errors = submitted(orjson.loads(v.body), raw)
        fields = {
            **self._payload("block_actions", user, bot),
            "container": {"type": "view", "view_id": v.id},
            "trigger_id": await self._triggers.issue(
                user.id, v.channel_id, bot.id, "" if v.home else v.id
            ),
            "view": view_object(v, bot, values),
            "actions": [action],
        }
        await self._send(v, bot, fields, answers=False)

    async def close(self, user: User, view_id: str | None) -> None:
        """``views.close`` (Parley's): the person closed it; an app that asked
        (``notify_on_close``) gets ``view_closed`` (not again if that fails: logged)."""
        v = await self._shown_to(user, view_id, modal=True)
        await self._put(msgspec.structs.replace(v, closed=True))
        body = orjson.loads(v.body)
        bot = await self._directory.user(v.app_user_id)
        if not body.get("notify_on_close") or bot is None or bot.deleted:
            return
        fields = {
            **self._payload("view_closed", user, bot),
            "view": view_object(v, bot),
            "is_cleared": False,
        }
        try:
            await self._send(v, bot, fields, answers=False)
        except ApiError as exc:
            log.info("apps: view_closed did not reach the app: %s", exc.code)

    def _payload(self, kind: str, user: User, bot: User) -> dict[str, Any]:
        """What every modal payload of ``user``'s to ``bot``'s app says."""
        return {
            "type": kind,
            "team": {"id": user.team_id, "domain": ""},
            "user": {
                "id": user.id,
                "username": user.name,
                "name": user.name,
                "team_id": user.team_id,
            },
            "api_app_id": app_id(bot),
            "token": "",
            "is_enterprise_install": False,
            "enterprise": None,
        }

    async def _send(
        self, v: AppView, bot: User, fields: dict[str, Any], *, answers: bool
    ) -> dict[str, Any] | None:
        """``fields`` to the app: over Socket Mode (``None``: the answer comes as the
        acknowledgement, :meth:`acknowledged`), or POSTed to its interactivity URL (the
        answer's JSON object, ``{}`` for none)."""
        # the request is routed by the team, named by the channel
        channel = Channel(v.channel_id, v.team_id, "", True, bot.id, 0)
        answer = await interact(
            self._link, self._directory, channel, bot.id, fields, answers=answers
        )
        if answer is None:
            return None
        try:
            obj = orjson.loads(answer.content) if answer.content.strip() else {}
        except orjson.JSONDecodeError:
            obj = {}
        return obj if isinstance(obj, dict) else {}

    async def answered(self, view_id: str, obj: dict[str, Any]) -> None:
        """The app's answer to a submission of ``view_id`` (see the module); what it
        gets wrong is logged, and the view stays open."""
        v = await self._directory.view(view_id)
        if v is None or v.closed or v.home:
            return
        action = obj.get("response_action")
        if action is None:  # back to the modal under it, if any
            await self._close(v)
        elif action == "clear":  # the whole stack, the first first
            for each in await self._stack(v):
                await self._close(each)
        elif action == "errors" and isinstance(obj.get("errors"), dict):
            errors = {str(k): str(e) for k, e in obj["errors"].items()}
            self._tell(v, ERRORS, {"view_id": v.id, "errors": errors})
        elif action in ("update", "push"):
            try:
                body = parse_view(obj.get("view"))
                if action == "update":
                    await self._replace(v, body)
                elif len(await self._stack(v)) >= MAX_STACK:
                    log.info("apps: a submission's answer pushed past %d modals", MAX_STACK)
                else:
                    await self._show(v.team_id, v.app_user_id, v.user_id, v.channel_id, body, v)
            except ApiError as exc:
                log.info("apps: a submission's answer had a bad view: %s", exc.data)
        else:
            log.info("apps: a submission's answer said %r", action)

    async def acknowledged(self, request: bytes, obj: dict[str, Any]) -> None:
        """A Socket Mode acknowledgement of a ``view_submission`` request."""
        view_id = orjson.loads(request).get("payload", {}).get("view", {}).get("id", "")
        try:
            await self.answered(view_id, obj)
        except Exception:  # the directory failing: the app cannot be told
            log.exception("apps: a submission's answer failed")

    async def _close(self, v: AppView) -> None:
        """Closes ``v`` for the app (``view_closed``): it takes nothing more."""
        await self._put(msgspec.structs.replace(v, closed=True))
        self._tell(v, CLOSED, {"view_id": v.id})

    async def _replace(self, v: AppView, body: dict[str, Any]) -> AppView:
        v = msgspec.structs.replace(
            v,
            body=orjson.dumps(body).decode(),
            hash=_hash(),
            external_id=body.get("external_id", v.external_id),
        )
        await self._put(v)
        self._tell(v, UPDATED, {"view": shown(v)})
        return v

    async def _put(self, v: AppView) -> None:
        now = self._now_us()
        await self._directory.put_view(v, now, now - VIEW_TTL * 1_000_000)

    async def _of_app(self, bot: User, view_id: str | None, external_id: str | None) -> AppView:
        if view_id:
            v = await self._directory.view(view_id)
        elif external_id:
            v = await self._directory.view_by_external(bot.team_id, external_id)
        else:
            raise ApiError(Code.INVALID_ARGUMENTS, data={"detail": "view_id or external_id"})
        if v is None or v.app_user_id != bot.id or v.closed:
            raise ApiError("not_found")
        return v

    async def _shown_to(self, user: User, view_id: str | None, modal: bool = False) -> AppView:
        """The open view ``view_id`` shown to ``user`` (a modal, when ``modal``: a home
        tab is neither submitted nor closed), else ``view_not_found``."""
        v = await self._directory.view(view_id) if view_id else None
        if v is None or v.user_id != user.id or v.closed or (modal and v.home):
            raise ApiError(VIEW_NOT_FOUND)
        return v

    def _tell(self, v: AppView, kind: str, body: dict[str, Any]) -> None:
        """An RTM event about ``v`` for the person it is shown to, with its ``channel``
        (where it was opened from; a home tab's, the direct message with the bot)."""
        body = {**body, "channel": v.channel_id}
        self._bus.publish(events.for_user(kind, v.channel_id, v.team_id, v.user_id, body))


def route_acknowledgements(
    replies: Callable[[bytes, dict], Awaitable[None]], views: Views
) -> Callable[[bytes, dict], Awaitable[None]]:
    """The gateway's ``request_reply``: a Socket Mode acknowledgement of a
    ``view_submission`` goes to :meth:`Views.acknowledged` (even with no payload: it
    closes the view), any other with a payload to ``replies``."""

    async def acknowledged(request: bytes, obj: dict) -> None:
        if orjson.loads(request).get("payload", {}).get("type") == "view_submission":
            await views.acknowledged(request, obj)
        elif obj:
            await replies(request, obj)

    return acknowledged
