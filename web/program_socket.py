"""Programs' way in: `POST /api/session` signs in with a name and password (the sign-in form's limits and
lockouts) and answers a session token; the socket.io namespace `/program` on NiceGUI's server then attaches a
socket holding that token as a tab of its user (voiceconnect/programs.py says what that means).

Every request on the namespace is answered through socket.io's acknowledgement: `{'call': …}`, `{}`, or
`{'error': message}`; what the server has to say comes as events (`call`, `signal`, `presence`, `signed_out`,
`service`), in order, through one queue per socket.

`install` also lists the Sound test contact (voiceconnect/sound_test.py), a program inside the app.
"""

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

import socketio
from fastapi import Request
from fastapi.responses import JSONResponse
from nicegui import app

from voiceconnect.accounts import AccountError
from voiceconnect.calls import CallError
from voiceconnect.programs import ProgramConnection, ProgramRefused, Programs
from voiceconnect.sound_test import SOUND_TEST, SoundTest

from .core import backend
from .nicegui_fixes.socketio_server import socketio_server

log = logging.getLogger('voiceconnect')
NAMESPACE = '/program'
SESSION_ROUTE = '/api/session'
API_ROUTES = (SESSION_ROUTE,)  # every path under /api/ there is
MAX_QUEUED = 1000  # events for a program that does not read them; beyond that its socket is closed
CLOSE_AFTER_S = 5.0  # what is queued for a socket being closed (e.g. `signed_out`) goes out first, this long at most


class ProgramNamespace(socketio.AsyncNamespace):
    def __init__(self) -> None:
        super().__init__(NAMESPACE)
        self.connections: dict[str, ProgramConnection] = {}
        self.outboxes: dict[str, asyncio.Queue[tuple[str, dict[str, Any]] | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: object = None) -> None:
        await backend().start()
        outbox: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        self.outboxes[sid] = outbox
        self._spawn(self._send_all(sid, outbox))

        def send(event: str, data: dict[str, Any]) -> None:
            if outbox.qsize() >= MAX_QUEUED:
                log.warning('⚠️ Program socket closed: it reads nothing (%d events waiting)', MAX_QUEUED)
                self._close(sid)
            else:
                outbox.put_nowait((event, data))

        try:
            self.connections[sid] = await programs().connect(auth, send, lambda: self._close(sid))
        except (ProgramRefused, CallError) as refused:  # CallError: e.g. Redis does not answer just now
            outbox.put_nowait(None)
            raise socketio.exceptions.ConnectionRefusedError(str(refused)) from None

    async def on_disconnect(self, sid: str, reason: object = None) -> None:
        if (outbox := self.outboxes.pop(sid, None)) is not None:
            outbox.put_nowait(None)
        if (connection := self.connections.pop(sid, None)) is not None:
            await connection.disconnected()

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

    async def _send_all(self, sid: str, outbox: 'asyncio.Queue[tuple[str, dict[str, Any]] | None]') -> None:
        while (item := await outbox.get()) is not None:
            with contextlib.suppress(Exception):  # a socket that is going away: its disconnect cleans up
                await self.emit(item[0], item[1], to=sid)
            outbox.task_done()  # sent: `_close_after` waits for this, not only for the queue to be empty
        outbox.task_done()

    def _close(self, sid: str) -> None:
        """Close after what is queued has gone out (e.g. `signed_out`)."""
        if (outbox := self.outboxes.get(sid)) is not None:
            self._spawn(self._close_after(sid, outbox))

    async def _close_after(self, sid: str, outbox: 'asyncio.Queue[tuple[str, dict[str, Any]] | None]') -> None:
        with contextlib.suppress(TimeoutError):  # a socket that reads nothing is closed anyway
            await asyncio.wait_for(outbox.join(), CLOSE_AFTER_S)
        await self.disconnect(sid)


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
