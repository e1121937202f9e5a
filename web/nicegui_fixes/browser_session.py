"""Sign-in and Log out give the browser a new id, so a copy of its session cookie, taken before, opens nothing after.

NiceGUI keeps a browser's user storage (here: the session tokens of the accounts signed in on it) under an id in the
signed session cookie, and that id never changes. Two attacks follow:

- session fixation: a cookie planted in a victim's browser (or copied from it while nobody was signed in there)
  became the victim's once they signed in with it;
- a cookie copied before a Log out: revoking the logged-out token is not enough, the owner's next sign-in on that
  browser landed in storage that the copy still opens.

So every sign-in and every Log out moves the browser to a new id with an HTTP round trip from its page (the sign-in
itself runs over the socket, which cannot set a cookie), and retires the old id's storage:

- `renew_for_sign_in`: the page that signs in fetches `SIGN_IN_PATH` with a one-time ticket its socket was given;
  the browser's accounts move to a new id, the new sign-in is added there, and the page itself moves with them (its
  request's id, which NiceGUI keeps its storage by and session_binding checks its socket against);
- `RENEW` (Log out): the same move, a plain fetch; the page itself stays (the session's end has shown it the sign-in
  page already, as every other tab of the session) and follows the browser to its new id like an older tab;
- a copy of an old cookie opens retired storage: the sign-in gate gives it a fresh, empty id (`fresh_id_if_retired`;
  it is no successor of the old id: only the browser's own round trips are);
- another tab of the browser still running on an older id (loaded before) finds the browser's current storage by a
  round trip of its own (`follow`), which its cookie proves.

Still needed upstream while `test_nicegui_alone_lets_a_copied_cookie_into_the_storage_after_it_was_emptied`
(tests/web/test_nicegui_fixes.py) passes.
"""

import asyncio
import secrets
import uuid
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from nicegui import Client, app

RETIRED = 'retired'  # app.storage.user: this id was replaced; nothing may be stored here any more
RENEW_PATH = '/session/renew'
SIGN_IN_PATH = '/session/sign-in'
FOLLOW_PATH = '/session/follow'
RENEW = f"fetch('{RENEW_PATH}', {{method: 'POST'}})"  # no reload after it: the page is on /login already
ROUND_TRIP_TIMEOUT_S = 15.0  # a page that does not make its round trip in this time is treated as gone
MAX_PENDING = 1000  # round trips waiting; beyond that the oldest is refused (its page may try again)
MAX_RENEWALS = 10_000  # retired id → the id that replaced it, for tabs still open on the old one
_successor: dict[str, str] = {}

Storage = MutableMapping[str, Any]
Apply = Callable[[Storage, str, str], None]  # (the new storage, the id it replaced, the new id)


class RoundTripFailed(Exception):
    """The page did not make its round trip (gone, offline), or it came from another browser."""


@dataclass(frozen=True)
class BrowserStorage:
    """Where a browser's user storage is now: its id and the storage itself."""

    browser_id: str
    storage: Storage


@dataclass
class _RoundTrip:
    client: Client  # the page that was given the ticket
    apply: Apply | None  # a sign-in: what to add under the new id; None: only find the browser's current storage
    done: 'asyncio.Future[BrowserStorage]'


_pending: dict[str, _RoundTrip] = {}  # one-time ticket → what it is for


def _from_this_app(request: Request) -> bool:
    """Fetch metadata says the POST came from this app's own page (a cross-site form cannot send the SameSite=Lax
    cookie anyway)."""
    return request.headers.get('sec-fetch-site', 'same-origin') == 'same-origin'


def is_retired(storage: Mapping[str, Any]) -> bool:
    """Whether this user storage (a browser's, as a tab captured it) was retired at a sign-in or Log out."""
    return bool(storage.get(RETIRED))


def page_browser_id(client: Client) -> str | None:
    """The browser id of the request a page was built for (moved on by this page's own sign-in)."""
    try:
        found = client.request.session.get('id')
    except (AssertionError, AttributeError):  # a page built without the session middleware
        return None
    return found if isinstance(found, str) else None


async def _switch_to_new_id(request: Request, successor: bool = True) -> dict[str, Any]:
    """The request's browser gets a new id (the session middleware sends the new cookie); returns what the old
    id's storage held, which is now retired. `successor`: the new id is the old one's successor (the browser's own
    round trip), not a stranger that came with a copy of a retired cookie."""
    old = app.storage.user
    kept = {key: value for key, value in old.items() if key != RETIRED}
    old.clear()
    old[RETIRED] = True
    new_id = str(uuid.uuid4())
    await app.storage._create_user_storage(new_id)  # what NiceGUI's request middleware does for a new browser
    if successor and isinstance(old_id := request.session.get('id'), str):
        while len(_successor) >= MAX_RENEWALS:
            _successor.pop(next(iter(_successor)))
        _successor[old_id] = new_id
    request.session['id'] = new_id
    return kept


def successors(browser_id: str) -> list[str]:
    """This browser id and the ids that replaced it at each sign-in and Log out since: a tab loaded before still
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
    """A request with a retired id (a copied cookie, or a browser that missed its new cookie) starts as a new
    browser."""
    if is_retired(app.storage.user):
        await _switch_to_new_id(request, successor=False)


async def renew_for_sign_in(client: Client, apply: Apply) -> BrowserStorage:
    """The browser of this page moves to a new id, keeping what its storage held; `apply` then adds the sign-in to
    the new storage. The page belongs to the new id from then on. Raises RoundTripFailed."""
    return await _round_trip(client, SIGN_IN_PATH, apply)


async def follow(client: Client) -> BrowserStorage:
    """Where this page's browser keeps its storage now (the page was loaded before a sign-in or Log out in another
    of its tabs moved it on); the page belongs to that id from then on. Raises RoundTripFailed."""
    return await _round_trip(client, FOLLOW_PATH, None)


async def _round_trip(client: Client, path: str, apply: Apply | None) -> BrowserStorage:
    while len(_pending) >= MAX_PENDING:
        _fail(_pending.pop(next(iter(_pending))), 'too many round trips waiting')
    ticket = secrets.token_urlsafe(24)
    done: asyncio.Future[BrowserStorage] = asyncio.get_running_loop().create_future()
    _pending[ticket] = _RoundTrip(client, apply, done)
    client.run_javascript(f"fetch('{path}', {{method: 'POST', headers: {{'X-Ticket': '{ticket}'}}}})")
    try:
        return await asyncio.wait_for(done, ROUND_TRIP_TIMEOUT_S)
    except TimeoutError:
        raise RoundTripFailed('the page did not make its round trip') from None
    finally:
        _pending.pop(ticket, None)


def _fail(trip: _RoundTrip, why: str) -> None:
    if not trip.done.done():
        trip.done.set_exception(RoundTripFailed(why))


def _take(request: Request) -> _RoundTrip | None:
    """The round trip this request answers: its ticket's, from this app's page, by the same browser (the request's
    cookie is the page's browser id or one that replaced it, and not retired)."""
    trip = _pending.pop(request.headers.get('x-ticket', ''), None)
    if trip is None or trip.done.done():
        return None
    page = page_browser_id(trip.client)
    current = request.session.get('id')
    same_browser = page is not None and current in successors(page) and not is_retired(app.storage.user)
    if not _from_this_app(request) or not same_browser:
        _fail(trip, 'the round trip came from another browser')
        return None
    return trip


def _move_page(client: Client, browser_id: str) -> BrowserStorage:
    """The page now belongs to this browser id: NiceGUI keeps its storage while the page is open, and finds it as
    `app.storage.user` in the page's handlers."""
    client.request.session['id'] = browser_id
    return BrowserStorage(browser_id, app.storage.user)


async def sign_in_round_trip(request: Request) -> Response:
    if (trip := _take(request)) is None or trip.apply is None:
        return Response(status_code=403)
    old_id = str(request.session['id'])
    kept = await _switch_to_new_id(request)
    new_id = str(request.session['id'])
    app.storage.user.update(kept)
    trip.apply(app.storage.user, old_id, new_id)
    trip.done.set_result(_move_page(trip.client, new_id))
    return Response(status_code=204)


async def follow_round_trip(request: Request) -> Response:
    if (trip := _take(request)) is None or trip.apply is not None:
        return Response(status_code=403)
    trip.done.set_result(_move_page(trip.client, str(request.session['id'])))
    return Response(status_code=204)


def install() -> None:
    app.add_api_route(RENEW_PATH, renew, methods=['POST'])
    app.add_api_route(SIGN_IN_PATH, sign_in_round_trip, methods=['POST'])
    app.add_api_route(FOLLOW_PATH, follow_round_trip, methods=['POST'])
