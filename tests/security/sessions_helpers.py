"""Tools for tests/security/test_sessions.py: a program's socket without the voice client (what a script holding a
session token does) and sign-ins over `POST /api/session` from any address (uvicorn trusts X-Forwarded-For from
loopback, as from a proxy on the same host); the admin command is `AppServer.admin`."""

import asyncio
import secrets
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import socketio

from voiceconnect.testing.servers import AppServer

T = TypeVar('T')
NAMESPACE = '/program'
SOCKETIO_PATH = '_nicegui_ws/socket.io'


def open_session(server: AppServer, name: str, password: str, address: str = '127.0.0.1') -> httpx.Response:
    """`POST /api/session`, as a client at `address` would send it through a proxy on this host."""
    with httpx.Client(base_url=server.url, trust_env=False, timeout=30) as http:
        return http.post(
            '/api/session', json={'name': name, 'password': password}, headers={'X-Forwarded-For': address}
        )


def token_of(server: AppServer, name: str, password: str) -> str:
    reply = open_session(server, name, password)
    assert reply.status_code == 200, reply.text
    return str(reply.json()['token'])


class ProgramSocket:
    """A socket on the `/program` namespace holding a session token: one more tab of its user, in a thread of its
    own (the tests drive Playwright's sync API on the main thread)."""

    def __init__(self, server: AppServer, token: str) -> None:
        self.received: list[tuple[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._sio = socketio.AsyncClient(reconnection=False)
        for event in ('call', 'signal', 'presence', 'signed_out', 'service'):
            self._sio.on(event, self._recorder(event), namespace=NAMESPACE)
        hello = {'token': token, 'client_key': secrets.token_urlsafe(16)}
        self._run(
            self._sio.connect(
                server.url, namespaces=[NAMESPACE], socketio_path=SOCKETIO_PATH, transports=['websocket'], auth=hello
            )
        )

    def _recorder(self, event: str) -> Any:
        async def record(data: Any) -> None:
            self.received.append((event, data))

        return record

    def _run(self, work: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def request(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """A request and the server's answer (`{'call': …}`, `{}` or `{'error': …}`)."""
        if not self._sio.connected:
            return {'error': 'the socket is closed'}
        try:
            answer: dict[str, Any] = self._run(self._sio.call(event, data, namespace=NAMESPACE, timeout=10))
        except socketio.exceptions.SocketIOError as error:  # closed by the server meanwhile
            return {'error': f'the socket closed: {error!r}'}
        return answer

    def of(self, event: str) -> list[Any]:
        return [data for name, data in self.received if name == event]

    @property
    def connected(self) -> bool:
        return bool(self._sio.connected)

    def close(self) -> None:
        if self._sio.connected:
            self._run(self._sio.disconnect())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
