"""Log out gives the browser a new id, so a copy of its session cookie taken before opens nothing after.

NiceGUI keeps a browser's user storage (here: the session tokens of the accounts signed in on it) under an id
in the signed session cookie, and that id never changes. Revoking the logged-out token is not enough: the
owner's next sign-in on that browser would land in storage that a copy of the old cookie still opens. So Log
out ends with an HTTP round trip that moves the browser's remaining accounts to a new id (a new cookie) and
retires the old id's storage:

- a copy of the old cookie opens retired storage: the sign-in gate gives it a fresh, empty id;
- a tab of this browser still running on the old id (its document was loaded before) that signs in hands the
  new session to the browser's current id by another round trip (`adopt`), never to retired storage.
"""

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import Request, Response
from nicegui import app

RETIRED = 'retired'  # app.storage.user: this id was replaced at a Log out; nothing may be stored here any more
RENEW_PATH = '/session/renew'
ADOPT_PATH = '/session/adopt'
RENEW_AND_SIGN_IN = f"fetch('{RENEW_PATH}', {{method: 'POST'}}).finally(() => location.replace('/login'))"
MAX_PENDING = 1000  # handovers waiting for their round trip; a browser that never makes it loses nothing else

_pending: dict[str, dict[str, Any]] = {}  # one-time ticket → what to store under the browser's current id
MAX_RENEWALS = 10_000  # retired id → the id that replaced it, for tabs still open on the old one
_successor: dict[str, str] = {}


def _from_this_app(request: Request) -> bool:
    """Fetch metadata says the POST came from this app's own page (a cross-site form cannot send the SameSite=Lax
    cookie anyway)."""
    return request.headers.get('sec-fetch-site', 'same-origin') == 'same-origin'


def is_retired(storage: Mapping[str, Any]) -> bool:
    """Whether this user storage (a browser's, as a tab captured it) was retired at a Log out."""
    return bool(storage.get(RETIRED))


async def _switch_to_new_id(request: Request) -> dict[str, Any]:
    """The request's browser gets a new id (the session middleware sends the new cookie); returns what the old
    id's storage held, which is now retired."""
    old = app.storage.user
    kept = {key: value for key, value in old.items() if key != RETIRED}
    old.clear()
    old[RETIRED] = True
    new_id = str(uuid.uuid4())
    await app.storage._create_user_storage(new_id)  # what NiceGUI's request middleware does for a new browser
    if isinstance(old_id := request.session.get('id'), str):
        while len(_successor) >= MAX_RENEWALS:
            _successor.pop(next(iter(_successor)))
        _successor[old_id] = new_id
    request.session['id'] = new_id
    return kept


def successors(browser_id: str) -> list[str]:
    """This browser id and the ids that replaced it at each Log out since: a tab loaded before a Log out still
    belongs to the browser (session_binding lets its socket reconnect with the new cookie)."""
    chain = [browser_id]
    while (following := _successor.get(chain[-1])) is not None and following not in chain:
        chain.append(following)
    return chain


async def renew(request: Request) -> Response:
    """POST from this app's own page at Log out: the browser's accounts move to a new id."""
    if not _from_this_app(request):
        return Response(status_code=403)
    if not app.storage.user:  # nothing was ever signed in here: no id to protect, and no storage to make for it
        return Response(status_code=204)
    kept = await _switch_to_new_id(request)
    app.storage.user.update(kept)
    return Response(status_code=204)


async def fresh_id_if_retired(request: Request) -> None:
    """A request with a retired id (a copied cookie, or a tab from before the Log out) starts as a new browser."""
    if is_retired(app.storage.user):
        await _switch_to_new_id(request)


def hand_over(changes: dict[str, Any]) -> str:
    """JavaScript for this tab: store `changes` in the user storage of the browser's *current* id (this tab's
    document may still run on a retired one)."""
    while len(_pending) >= MAX_PENDING:
        _pending.pop(next(iter(_pending)))
    ticket = secrets.token_urlsafe(24)
    _pending[ticket] = changes
    return f"fetch('{ADOPT_PATH}', {{method: 'POST', headers: {{'X-Ticket': '{ticket}'}}}})"


async def adopt(request: Request) -> Response:
    changes = _pending.pop(request.headers.get('x-ticket', ''), None)
    if changes is None or not _from_this_app(request):
        return Response(status_code=403)
    await fresh_id_if_retired(request)
    for key, value in changes.items():
        app.storage.user[key] = {**app.storage.user.get(key, {}), **value} if isinstance(value, dict) else value
    return Response(status_code=204)


def install() -> None:
    app.add_api_route(RENEW_PATH, renew, methods=['POST'])
    app.add_api_route(ADOPT_PATH, adopt, methods=['POST'])
