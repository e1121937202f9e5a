"""Programs' way in: `POST /api/session` signs in with a name and password (the sign-in form's limits and
lockouts) and answers a session token; the socket.io namespace `/program` on NiceGUI's server then attaches a
socket holding that token as a tab of its user (voiceconnect/programs/tabs.py says what that means).

Every request on the namespace is answered through socket.io's acknowledgement: `{'call': …}`, `{}`, or
`{'error': message}`; what the server has to say comes as events (`call`, `signal`, `presence`, `signed_out`,
`service`), in order, through one queue per socket. What waits there counts in the socket's bound
(`OUTGOING_QUEUE_MAX_BYTES`, nicegui_fixes/socket_backpressure.py): a program that does not read is disconnected.

`install` also lists the Sound test contact (voiceconnect/programs/sound_test.py), a program inside the app.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Any

import socketio
from fastapi import Request
from fastapi.responses import JSONResponse
from nicegui import app

from voiceconnect.calls.machine import CallError
from voiceconnect.people.accounts import AccountError
from voiceconnect.programs.sound_test import SOUND_TEST, SoundTest
from voiceconnect.programs.tabs import ProgramConnection, ProgramRefused, Programs

from .core import backend
from .nicegui_fixes import socket_backpressure
from .nicegui_fixes.socketio_server import socketio_server

log = logging.getLogger('voiceconnect')
NAMESPACE = '/program'
SESSION_ROUTE = '/api/session'
API_ROUTES = (SESSION_ROUTE,)  # every path under /api/ there is
CLOSE_AFTER_S = 5.0  # what is queued for a socket being closed (e.g. `signed_out`) goes out first, this long at most


class Outbox:
    """The events for one program socket, in order. What waits here counts in the socket's bound, like what waits
    in engine.io's queue."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], int] | None] = asyncio.Queue()
        self.waiting = 0  # characters
        self.ended = False  # its socket is gone: a device parked for the grace still sends, to nobody

    def put(self, event: str, data: dict[str, Any]) -> bool:
        """Queue an event; False (nothing queued) if it would pass the bound."""
        if self.ended:
            return True
        size = len(json.dumps(data, default=str))
        if self.waiting and self.waiting + size > socket_backpressure.Bound.max_bytes:
            return False
        self.waiting += size
        self._queue.put_nowait((event, data, size))
        return True

    async def next(self) -> tuple[str, dict[str, Any]] | None:
        """The next event to send; None once the socket is gone."""
        if (item := await self._queue.get()) is None:
            return None
        event, data, size = item
        self.waiting -= size
        return event, data

    def task_done(self) -> None:
        """An event taken by `next` has been sent (or its socket is gone)."""
        self._queue.task_done()

    async def join(self) -> None:
        """Until every event queued so far has been sent."""
        await self._queue.join()

    def end(self) -> None:
        self.ended = True
        self._queue.put_nowait(None)


def client_address(environ: dict[str, Any]) -> str:
    """The socket's client address as uvicorn saw it (after trusted proxy headers)."""
    scope = environ.get('asgi.scope')
    client = scope.get('client') if isinstance(scope, dict) else None
    return str(client[0]) if isinstance(client, list | tuple) and client else ''


class ProgramNamespace(socketio.AsyncNamespace):
    def __init__(self) -> None:
        super().__init__(NAMESPACE)
        self.connections: dict[str, ProgramConnection] = {}
        self.outboxes: dict[str, Outbox] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        await backend().start()
        outbox = self.outboxes[sid] = Outbox()
        self._spawn(self._send_all(sid, outbox))

        def send(event: str, data: dict[str, Any]) -> None:
            if not outbox.put(event, data):
                eio_sid = self.server.manager.eio_sid_from_sid(sid, NAMESPACE)
                socket_backpressure.disconnect_slow_reader(str(eio_sid), outbox.waiting)

        try:
            connection = await programs().connect(auth, send, lambda: self._close(sid), client_address(environ))
        except (ProgramRefused, CallError) as refused:  # CallError: e.g. Redis does not answer just now
            self._forget(sid)  # a refused socket never connects, so no disconnect would ever let its outbox go
            raise socketio.exceptions.ConnectionRefusedError(str(refused)) from None
        self.connections[sid] = connection

    async def on_disconnect(self, sid: str, reason: object = None) -> None:
        self._forget(sid)
        if (connection := self.connections.pop(sid, None)) is not None:
            await connection.disconnected()

    def _forget(self, sid: str) -> None:
        if (outbox := self.outboxes.pop(sid, None)) is not None:
            outbox.end()

    def user_of(self, sid: str) -> str | None:
        """The user of a program socket, for socket_backpressure's log line."""
        connection = self.connections.get(sid)
        return connection.device.user if connection is not None else None

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event in ('connect', 'disconnect'):
            return await super().trigger_event(event, *args)
        sid, *data = args
        if (connection := self.connections.get(sid)) is None:
            return {'error': 'Not connected.'}
        try:
            return await connection.handle(event, data[0] if len(data) == 1 else data)
        except Exception:  # a bug: answered all the same (python-socketio runs this in a task nobody awaits)
            log.exception('a program request %r failed', event[:40])
            return {'error': 'The server failed to handle this request.'}

    async def _send_all(self, sid: str, outbox: Outbox) -> None:
        while (item := await outbox.next()) is not None:
            with contextlib.suppress(Exception):  # a socket that is going away: its disconnect cleans up
                await self.emit(item[0], item[1], to=sid)
            outbox.task_done()  # sent: `_close_after` waits for this, not only for the queue to be empty
        outbox.task_done()

    def _close(self, sid: str) -> None:
        """Close after what is queued has gone out (e.g. `signed_out`)."""
        if (outbox := self.outboxes.get(sid)) is not None:
            self._spawn(self._close_after(sid, outbox))

    async def _close_after(self, sid: str, outbox: Outbox) -> None:
        with contextlib.suppress(TimeoutError):  # a socket that reads nothing is closed anyway
            await asyncio.wait_for(outbox.join(), CLOSE_AFTER_S)
        await self.disconnect(sid)


def held() -> int:
    """Program sockets the server holds (connected, or being let in), for /metrics."""
    handler = socketio_server().namespace_handlers.get(NAMESPACE)
    return len(handler.outboxes) if isinstance(handler, ProgramNamespace) else 0


_programs: list[Programs] = []


def programs() -> Programs:
    if not _programs:
        core = backend()
        _programs.append(Programs(core.accounts, core.switchboard, core.settings.ice_servers))
    return _programs[0]


async def open_session(request: Request) -> JSONResponse:
    """`{"name": …, "password": …}` → `{"name": …, "token": …}`; 401 `{"error": …}` when refused."""
    await backend().start()
    try:
        body = await request.json()
    except ValueError:
        body = None
    fields = body if isinstance(body, dict) else {}
    address = request.client.host if request.client else None
    try:
        signed_in = await programs().sign_in(fields.get('name'), fields.get('password'), address)
    except AccountError as refused:
        return JSONResponse({'error': str(refused)}, status_code=401)
    return JSONResponse({'name': signed_in.name, 'token': signed_in.token})


def install(sound_test: bool) -> None:
    """Idempotent: tests build the app more than once in a process. `sound_test`: list the Sound test contact."""
    _programs.clear()
    logging.getLogger('aioice').setLevel(logging.WARNING)  # it logs every ICE check at INFO, in the app's log
    if sound_test:
        backend().switchboard.contacts[SOUND_TEST] = SoundTest(programs())
    server = socketio_server()
    if NAMESPACE not in server.namespace_handlers:
        server.register_namespace(ProgramNamespace())
    app.add_api_route(SESSION_ROUTE, open_session, methods=['POST'])
