"""What the Redis hostile-load tests share: the app started on a real redis-server of the test's own (so a test
may hang it), and programs: raw clients of the app's `/program` namespace (the Python voice client's way in) that
record everything they are told and whose every request has a bounded wait."""

import asyncio
import contextlib
import secrets
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
import pytest
import socketio

from voiceconnect.calls.machine import Call, new_id
from voiceconnect.client.voice_client import NAMESPACE, SOCKETIO_PATH
from voiceconnect.testing.servers import PROJECT_DIR, AppServer, RedisServer

T = TypeVar('T')
TRACEBACKS = ('Traceback', 'Task exception was never retrieved')


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own: it may be hung (SIGSTOP) or filled with junk."""
    with RedisServer(tmp_path / 'redis') as server:
        yield server


def app_on(redis: RedisServer, directory: Path, name: str = 'app', **settings: Any) -> AppServer:
    """The app (`python main.py`) with REDIS_URL, not started; its log and data under `directory`."""
    return AppServer(PROJECT_DIR, directory / 'data', directory / f'{name}.log', {'REDIS_URL': redis.url, **settings})


def tracebacks(server: AppServer) -> list[str]:
    return [line for line in server.log_text().splitlines() if line.startswith(TRACEBACKS)]


class Program:
    """A program signed in as `name`: `request` waits at most `timeout` for the server's answer (TimeoutError
    otherwise), and `events` has every event the server sent, in order, with when it arrived."""

    def __init__(self, url: str, name: str, password: str) -> None:
        self.url = url
        self.name = name
        self.password = password
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._sio = socketio.AsyncClient(reconnection=False)
        self._sio.on('*', self._record, namespace=NAMESPACE)

    @classmethod
    def signed_up(cls, server: AppServer) -> Self:
        name, password = server.add_user(f'p{secrets.token_hex(3)}')
        return cls(server.url, name, password).open()

    async def _record(self, event: str, data: Any = None) -> None:
        self.events.append((time.monotonic(), event, data if isinstance(data, dict) else {'data': data}))

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def open(self) -> Self:
        with httpx.Client(base_url=self.url, trust_env=False, timeout=10) as http:
            reply = http.post('/api/session', json={'name': self.name, 'password': self.password})
        assert reply.status_code == 200, reply.text
        hello = {'token': reply.json()['token'], 'client_key': secrets.token_urlsafe(12)}
        self._thread.start()
        connect = self._sio.connect(
            self.url, namespaces=[NAMESPACE], socketio_path=SOCKETIO_PATH, transports=['websocket'], auth=hello
        )
        self._run(connect, 15)
        return self

    def request(self, event: str, data: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """The server's answer to one request (TimeoutError if there is none within `timeout`)."""
        answer: dict[str, Any] = self._run(self._sio.call(event, data, namespace=NAMESPACE, timeout=timeout), timeout)
        return answer

    def told(self, event: str) -> list[dict[str, Any]]:
        return [data for _, name, data in self.events if name == event]

    def call_told(self, call_id: str, state: str) -> float | None:
        """When this program was told that call `call_id` is in `state`."""
        return next(
            (
                at
                for at, name, data in self.events
                if name == 'call' and data.get('id') == call_id and data.get('state') == state
            ),
            None,
        )

    def close(self) -> None:
        if self._thread.is_alive():
            if self._sio.connected:
                with contextlib.suppress(Exception):  # the server may be gone already
                    self._run(self._sio.disconnect(), 5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


def orphan_call(caller: str, callee: str, rings_until: float) -> Call:
    """A ringing call as a process that died left it in Redis: nobody holds a timer for it any more."""
    call = Call(id=new_id('c'), caller=caller, callee=callee, caller_device='dead-tab', created=time.time())
    call.legs[new_id('l')] = 'dead-tab-2'
    call.rings_until = rings_until
    return call
