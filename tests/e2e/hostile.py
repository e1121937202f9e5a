"""Tools of a hostile client: a raw python-socketio client on someone's valid session, forged NiceGUI frames from
a real page's socket, and a recorder of what a page receives over its socket.

`RawSocket` does what a browser does, without the browser: it GETs a page with the session cookie of someone
signed in (taken from their Playwright context), reads the NiceGUI client id and the `vc_signal` listener out
of the HTML, opens the NiceGUI socket (implicit handshake, as nicegui.js does) and then sends whatever it likes.
"""

import asyncio
import json
import re
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

import httpx
import socketio
from playwright.sync_api import Page

from voiceconnect.testing.browser import peek

SOCKET_PATH = '_nicegui_ws/socket.io'
T = TypeVar('T')


@dataclass(frozen=True)
class PageIds:
    """What a NiceGUI page tells its own browser: its client id, and where its `vc_signal` listener lives."""

    client_id: str
    signal_element: int
    signal_listener: str


def page_ids(html: str) -> PageIds:
    client_id = re.search(r"'client_id': '([0-9a-f-]+)'", html)
    raw = re.search(r'parseElements\(String\.raw`(.*?)`\)', html, re.S)
    assert client_id and raw, 'not a NiceGUI page'
    text = raw.group(1)
    for escaped, plain in (('&#36;', '$'), ('&#96;', '`'), ('&gt;', '>'), ('&lt;', '<'), ('&amp;', '&')):
        text = text.replace(escaped, plain)
    for element_id, element in json.loads(text).items():
        for listener in element.get('events', []):
            if listener['type'] == 'vc_signal':
                return PageIds(client_id.group(1), int(element_id), listener['listener_id'])
    raise AssertionError('the page has no vc_signal listener')


def event_frame(client_id: str, element_id: int, listener_id: str, *args: object) -> dict[str, Any]:
    """A NiceGUI `event` message, as nicegui.js sends it (a numeric element id, each argument JSON-encoded)."""
    return {'id': element_id, 'client_id': client_id, 'listener_id': listener_id, 'args': [json.dumps(a) for a in args]}


@dataclass
class RawSocket:
    """A python-socketio client holding a valid session: a browser tab with no browser."""

    base_url: str
    cookies: dict[str, str]
    path: str = '/'
    tab_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    old_tab_id: str | None = None
    received: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._sio = socketio.AsyncClient(reconnection=False)
        self._sio.on('*', self._record)
        self.ids: PageIds | None = None

    @classmethod
    def of(cls, page: Page, base_url: str, **kwargs: Any) -> 'RawSocket':
        """A raw socket with the session cookies of the person signed in on `page`."""
        cookies = {cookie['name']: cookie['value'] for cookie in page.context.cookies()}
        return cls(base_url, cookies, **kwargs)

    async def _record(self, event: str, *data: Any) -> None:
        self.received.append((event, data[0] if len(data) == 1 else data))

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def open(self, client_id: str | None = None) -> Self:
        """GET the page, then connect its socket with the handshake in the connect URL, as nicegui.js does;
        `client_id`: claim that page's client instead of the one just loaded (someone else's, in a forgery)."""
        with httpx.Client(base_url=self.base_url, cookies=self.cookies, trust_env=False) as http:
            page = http.get(self.path)
        assert page.status_code == 200, f'GET {self.path} answered {page.status_code}'
        self.ids = page_ids(page.text)
        query = {
            'client_id': client_id or self.ids.client_id,
            'next_message_id': '0',
            'implicit_handshake': 'true',
            'document_id': str(uuid.uuid4()),
            'tab_id': self.tab_id,
            **({'old_tab_id': self.old_tab_id} if self.old_tab_id else {}),
        }
        url = f'{self.base_url}?{httpx.QueryParams(query)}'
        cookie = '; '.join(f'{name}={value}' for name, value in self.cookies.items())
        self._thread.start()
        self._run(
            self._sio.connect(url, socketio_path=SOCKET_PATH, transports=['websocket'], headers={'Cookie': cookie})
        )
        return self

    def emit(self, event: str, data: Any) -> None:
        self._run(self._sio.emit(event, data))

    def signal(self, payload: object) -> None:
        """What the browser module's `emitEvent('vc_signal', payload)` sends, through this page's own listener."""
        assert self.ids is not None
        self.emit('event', event_frame(self.ids.client_id, self.ids.signal_element, self.ids.signal_listener, payload))

    def text(self) -> str:
        """Everything received so far, as one string to search."""
        return json.dumps(self.received, default=repr, ensure_ascii=False)

    @property
    def connected(self) -> bool:
        return self._sio.connected

    def close(self) -> None:
        if self._thread.is_alive():
            if self._sio.connected:
                self._run(self._sio.disconnect())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


# --- a real page's socket, used by its own (hostile) user ---------------------------------------------------


def emit_signal(page: Page, payload: object) -> None:
    """Send a vc_signal from the page, exactly as its browser module would (through the page's own listener)."""
    page.evaluate('(payload) => emitEvent("vc_signal", payload)', payload)


def emit_raw(page: Page, event: str, message: object) -> None:
    """Send any socket.io message from the page's own NiceGUI socket."""
    page.evaluate('([event, message]) => window.socket.emit(event, message)', [event, message])


@dataclass(frozen=True)
class Listener:
    element_id: int
    listener_id: str


def button_listener(page: Page, name: str) -> Listener:
    """The element and click-listener ids of a visible button: what a forger would need to click it remotely."""
    dom_id = page.get_by_role('button', name=name).first.get_attribute('id')
    assert dom_id and dom_id.startswith('c'), dom_id
    element_id = int(dom_id[1:])
    listener = peek(
        page,
        f'mounted_app.elements[{element_id}].events.find((e) => e.type === "click").listener_id',
    )
    return Listener(element_id, listener)


def client_id(page: Page) -> str:
    return str(peek(page, 'window.clientId'))


def tab_id(page: Page) -> str:
    return str(peek(page, 'sessionStorage.__nicegui_tab_id'))


# --- what a page receives ------------------------------------------------------------------------------------


class SocketRecorder:
    """Every websocket frame a page receives from now on (install before the page opens its socket)."""

    def __init__(self, page: Page) -> None:
        self.frames: list[str] = []
        page.on('websocket', lambda ws: ws.on('framereceived', self._add))

    def _add(self, payload: str | bytes) -> None:
        self.frames.append(payload if isinstance(payload, str) else payload.decode('utf-8', errors='replace'))

    def text(self) -> str:
        return '\n'.join(self.frames)

    def legs(self) -> set[str]:
        return set(re.findall(r'\\?"leg\\?": \\?"(l[A-Za-z0-9_-]+)', self.text()))
