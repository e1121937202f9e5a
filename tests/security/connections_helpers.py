"""Hostile clients for the connection tests: a raw websocket that stops reading, programs on the `/program`
namespace, a raw NiceGUI tab that finds its page's elements, and what the server process holds.

`RawWebSocket` speaks engine.io over a plain TCP socket, so the test decides exactly when it reads: it can read
like a browser, then stop for good while it keeps sending the engine.io pongs that keep a socket alive. Its receive
buffer is small, so what the server sends piles up on the server's side, not in this process's kernel buffers.
"""

import asyncio
import base64
import contextlib
import json
import os
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx
import socketio

from tests.e2e.hostile import event_frame, page_ids
from voiceconnect.testing.servers import AppServer
from voiceconnect.testing.waiting import wait_until

SOCKET_PATH = '/_nicegui_ws/socket.io/'
T = TypeVar('T')


def rss_kb(pid: int) -> int:
    """The resident memory of a process, as the kernel counts it."""
    with open(f'/proc/{pid}/status') as status:
        lines = status.read().splitlines()
    for line in lines:
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    raise AssertionError('no VmRSS')


def app_rss_kb(server: AppServer) -> int:
    assert server.process is not None
    return rss_kb(server.process.pid)


def session_token(server: AppServer, name: str, password: str) -> str:
    """A program's sign-in: POST /api/session."""
    with httpx.Client(base_url=server.url, trust_env=False) as http:
        answer = http.post('/api/session', json={'name': name, 'password': password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()['token'])


def metric(server: AppServer, name: str) -> float:
    with httpx.Client(base_url=server.url, trust_env=False) as http:
        text = http.get('/metrics').text
    found = re.search(rf'^{re.escape(name)} (\S+)$', text, re.M)
    assert found, f'{name} not in /metrics'
    return float(found.group(1))


# --- a raw engine.io websocket ---------------------------------------------------------------------------


class Refused(Exception):
    """The server did not upgrade the connection (e.g. a foreign Origin): its HTTP status line."""


@dataclass
class RawWebSocket:
    """One engine.io connection over a plain TCP socket with a small receive buffer."""

    base_url: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    receive_buffer: int = 4096
    texts: list[str] = field(default_factory=list)  # every text frame read so far

    def __post_init__(self) -> None:
        self._sock: socket.socket | None = None
        self._buffer = b''
        self._send_lock = threading.Lock()
        self._stalled = threading.Event()
        self.closed_by_server = threading.Event()

    def open(self) -> Self:
        url = urlsplit(self.base_url)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
        sock.settimeout(10)
        sock.connect((url.hostname or '127.0.0.1', url.port or 80))
        self._sock = sock
        query = urlencode({'EIO': '4', 'transport': 'websocket', **self.query})
        headers = {
            'Host': url.netloc,
            'Upgrade': 'websocket',
            'Connection': 'Upgrade',
            'Sec-WebSocket-Key': base64.b64encode(os.urandom(16)).decode(),
            'Sec-WebSocket-Version': '13',
            **self.headers,
        }
        request = f'GET {SOCKET_PATH}?{query} HTTP/1.1\r\n' + ''.join(f'{k}: {v}\r\n' for k, v in headers.items())
        sock.sendall((request + '\r\n').encode())
        while b'\r\n\r\n' not in self._buffer:
            chunk = sock.recv(4096)
            if not chunk:
                raise Refused('connection closed during the handshake')
            self._buffer += chunk
        head, self._buffer = self._buffer.split(b'\r\n\r\n', 1)
        status = head.split(b'\r\n', 1)[0].decode()
        if ' 101 ' not in status:
            raise Refused(status)
        opened = self.read()
        assert opened.startswith('0'), opened  # engine.io's open packet
        return self

    # frames

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        if len(payload) < 126:
            header = struct.pack('!BB', 0x80 | opcode, 0x80 | len(payload))
        elif len(payload) < 1 << 16:
            header = struct.pack('!BBH', 0x80 | opcode, 0x80 | 126, len(payload))
        else:
            header = struct.pack('!BBQ', 0x80 | opcode, 0x80 | 127, len(payload))
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        assert self._sock is not None
        with self._send_lock:
            self._sock.sendall(header + mask + masked)

    def _take(self, count: int, deadline: float | None = None) -> bytes:
        assert self._sock is not None
        while len(self._buffer) < count:
            if deadline is not None:
                self._sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError('closed by the server')
            self._buffer += chunk
        taken, self._buffer = self._buffer[:count], self._buffer[count:]
        return taken

    def read(self, timeout: float = 10) -> str:
        """The next text frame (answering pings on the way, as a client does); TimeoutError if none comes."""
        deadline = time.monotonic() + timeout
        while True:
            first, second = self._take(2, deadline)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack('!H', self._take(2, deadline))
            elif length == 127:
                (length,) = struct.unpack('!Q', self._take(8, deadline))
            payload = self._take(length, deadline)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError(f'closed by the server: {payload[2:].decode(errors="replace")}')
            if opcode == 0x9:  # a websocket ping (uvicorn's keepalive)
                self._send_frame(0xA, payload)
                continue
            if opcode != 0x1:
                continue
            text = payload.decode()
            if text == '2':  # engine.io ping
                self.send('3')
                continue
            self.texts.append(text)
            return text

    def read_until(self, found: Callable[[str], bool], timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        try:
            while True:
                if found(text := self.read(deadline - time.monotonic())):
                    return text
        except TimeoutError:
            pass
        raise AssertionError(f'not received within {timeout:g} s; last frames: {self.texts[-3:]}')

    def read_for(self, seconds: float) -> None:
        """Read whatever comes for a while."""
        with contextlib.suppress(AssertionError):
            self.read_until(lambda _: False, seconds)

    # never reading again

    def stall(self, pong_every_s: float = 1.0) -> None:
        """Read nothing from now on, but keep the socket alive with pongs nobody asked for."""

        def pong() -> None:
            while not self._stalled.wait(pong_every_s):
                try:
                    self.send('3')
                except OSError:
                    self.closed_by_server.set()
                    return

        threading.Thread(target=pong, daemon=True).start()

    def close(self) -> None:
        self._stalled.set()
        if self._sock is not None:
            self._sock.close()


def program_socket(server: AppServer, token: str, client_key: str | None = None, **kwargs: Any) -> RawWebSocket:
    """A raw program socket on `/program` (connected: the namespace accepted it)."""
    raw = RawWebSocket(server.url, **kwargs).open()
    hello = {'token': token, 'client_key': client_key or f'key-{uuid.uuid4().hex[:12]}'}
    raw.send('40/program,' + json.dumps(hello))
    answer = raw.read_until(lambda text: text.startswith(('40/program', '44/program')))
    if answer.startswith('44/program'):
        raise Refused(json.loads(answer.split(',', 1)[1]).get('message', answer))
    return raw


def program_request(raw: RawWebSocket, ack: int, event: str, data: object) -> None:
    """A program's request, as python-socketio's client sends it (its answer comes back as ack `ack`)."""
    raw.send(f'42/program,{ack}' + json.dumps([event, data]))


# --- a raw NiceGUI tab -------------------------------------------------------------------------------------


@dataclass
class RawTab:
    """A NiceGUI page loaded with a browser's cookies and its socket opened by hand: it reads what the page is sent
    (and so knows its elements) until told to stall."""

    server: AppServer
    cookies: dict[str, str]
    path: str = '/'
    tab_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        self.elements: dict[str, dict[str, Any]] = {}
        self.socket: RawWebSocket | None = None

    def open(self, **socket_kwargs: Any) -> Self:
        with httpx.Client(base_url=self.server.url, cookies=self.cookies, trust_env=False) as http:
            page = http.get(self.path)
        assert page.status_code == 200, f'GET {self.path} answered {page.status_code}'
        self.ids = page_ids(page.text)
        self._elements_of_html(page.text)
        return self.connect(**socket_kwargs)

    def connect(self, next_message_id: int = 0, **socket_kwargs: Any) -> Self:
        """Open (or open again, as socket.io's reconnection does) this page's socket."""
        query = {
            'client_id': self.ids.client_id,
            'next_message_id': str(next_message_id),
            'implicit_handshake': 'true',
            'document_id': str(uuid.uuid4()),
            'tab_id': self.tab_id,
        }
        cookie = '; '.join(f'{name}={value}' for name, value in self.cookies.items())
        headers = {'Cookie': cookie, **socket_kwargs.pop('headers', {})}
        self.socket = RawWebSocket(self.server.url, query=query, headers=headers, **socket_kwargs).open()
        self.socket.send('40')
        answer = self.socket.read_until(lambda text: text.startswith(('40', '44')))
        if answer.startswith('44'):
            raise Refused(answer)
        return self

    def _elements_of_html(self, html: str) -> None:
        raw = re.search(r'parseElements\(String\.raw`(.*?)`\)', html, re.S)
        assert raw
        text = raw.group(1)
        for escaped, plain in (('&#36;', '$'), ('&#96;', '`'), ('&gt;', '>'), ('&lt;', '<'), ('&amp;', '&')):
            text = text.replace(escaped, plain)
        self.elements.update(json.loads(text))

    def messages(self) -> Iterator[tuple[str, Any]]:
        """Every socket.io event read so far, as (name, data)."""
        assert self.socket is not None
        for text in self.socket.texts:
            if text.startswith('42'):
                with_ack = re.match(r'42\d*(\[.*)', text, re.S)
                if with_ack:
                    name, *data = json.loads(with_ack.group(1))
                    yield name, data[0] if data else None

    def read_until(self, found: Callable[[str], bool], timeout: float = 15) -> str:
        """The first frame read so far, or read from now (keeping the elements up to date), that satisfies `found`."""
        assert self.socket is not None
        if (text := next((text for text in self.socket.texts if found(text)), None)) is not None:
            return text

        def seen(text: str) -> bool:
            if text.startswith('42["update"'):
                for element_id, element in json.loads(text[2:])[1].items():
                    if element_id != '_id' and element is not None:
                        self.elements[element_id] = element
            return found(text)

        return self.socket.read_until(seen, timeout)

    def listener(self, event: str, where: Callable[[dict[str, Any]], bool] = lambda _: True) -> tuple[int, str]:
        """The element id and listener id of the first element that listens to `event` and satisfies `where`."""
        for element_id, element in self.elements.items():
            for found in element.get('events', []):
                if found['type'] == event and where(element):
                    return int(element_id), found['listener_id']
        raise AssertionError(f'no element listens to {event!r}')

    def emit(self, element_id: int, listener_id: str, *args: object) -> None:
        assert self.socket is not None
        self.socket.send('42' + json.dumps(['event', event_frame(self.ids.client_id, element_id, listener_id, *args)]))

    def signal(self, payload: object) -> None:
        """A `vc_signal` from this page's browser module."""
        self.emit(self.ids.signal_element, self.ids.signal_listener, payload)

    def log(self, message: str) -> None:
        assert self.socket is not None
        frame = {'client_id': self.ids.client_id, 'level': 'warning', 'message': message}
        self.socket.send('42' + json.dumps(['log', frame]))

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()


# --- a program on a real python-socketio client --------------------------------------------------------------


class Program:
    """A program (a bot) on python-socketio's asyncio client, in a thread of its own: it records every event."""

    def __init__(self, server: AppServer, token: str, client_key: str | None = None) -> None:
        self.server = server
        self.token = token
        self.client_key = client_key or f'key-{uuid.uuid4().hex[:12]}'
        self.events: list[tuple[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._sio = socketio.AsyncClient(reconnection=False)
        self._sio.on('*', self._record, namespace='/program')

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((event, data))

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def connect(self) -> Self:
        auth = {'token': self.token, 'client_key': self.client_key}
        self._run(
            self._sio.connect(
                self.server.url,
                namespaces=['/program'],
                socketio_path=SOCKET_PATH.strip('/'),
                transports=['websocket'],
                auth=auth,
            )
        )
        return self

    def request(self, event: str, data: object = None) -> Any:
        return self._run(self._sio.call(event, data if data is not None else {}, namespace='/program'))

    def send_many(self, event: str, items: list[object]) -> None:
        """Emit every item without waiting for answers (as fast as the socket takes them)."""

        async def all_of_them() -> None:
            for item in items:
                await self._sio.emit(event, item, namespace='/program')

        self._run(all_of_them(), timeout=60)

    def calls(self) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == 'call']

    def wait_for_call(self, where: Callable[[dict[str, Any]], bool], what: str, timeout: float = 10) -> dict[str, Any]:
        return wait_until(lambda: next((c for c in reversed(self.calls()) if where(c)), None), what, timeout)

    def disconnect(self) -> None:
        self._run(self._sio.disconnect())

    def close(self) -> None:
        if self._sio.connected:
            self._run(self._sio.disconnect())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
