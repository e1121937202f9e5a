"""A socket whose client does not read what is sent to it is closed past a bound (python-engineio 4.15.1).

python-engineio keeps what is to be sent on a socket in an unbounded `asyncio.Queue`, which its websocket writer
empties only as fast as the network takes the bytes. A client that stops reading, kept alive by engine.io pongs
it sends unasked (the server takes them as answers to its pings), makes the server hold everything meant for
it, for ever: 1,000 relayed 60 KB answers held 54 MB and the socket was never closed. Mattermost's answer, taken
here: a connection whose send queue is full is closed.

`install` gives every socket a queue that counts the characters waiting in it (the server's `create_queue` hook)
and checks, before queueing a message (`send_packet`), that they stay within `OUTGOING_QUEUE_MAX_BYTES`. One
message always fits an empty queue, so a large page update is never refused; past the bound the socket is closed
as after a transport error, and nothing more is queued for it:

- its disconnect handlers run as for a network drop: a browser's page reconnects as after a blip (NiceGUI keeps
  it for `reconnect_timeout` and replays what it missed), a program's socket is parked for the grace period;
- what waited for it is dropped, and its TCP connection is aborted. Nothing else would end it: the writer waits
  for the network, the reader keeps taking the client's pongs. uvicorn keeps the connection in its server state
  (NiceGUI's `Server.instance`); a connection not found there (a polling client) has nothing to abort.

One WARNING line names the user of the socket. Still needed upstream while
`test_engineio_alone_queues_without_bound` (tests/web/test_socket_backpressure.py) passes.
"""

import asyncio
import contextlib
import importlib.metadata
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import engineio
import socketio
from engineio.async_socket import AsyncSocket
from nicegui import core

from voiceconnect.ratelimit import Limits

log = logging.getLogger('voiceconnect')
TESTED_ENGINEIO = '4.15.1'
DEFAULT_MAX_BYTES = Limits.model_fields['outgoing_queue_max_bytes'].default
PACKET_OVERHEAD = 16  # a packet without text (a ping, a noop) still takes room

SendPacket = Callable[[str, Any], Coroutine[Any, Any, None]]
HandleGet = Callable[[AsyncSocket, dict[str, Any]], Coroutine[Any, Any, Any]]


def _size(packet: object) -> int:
    data = getattr(packet, 'data', None)
    return PACKET_OVERHEAD + (len(data) if isinstance(data, str | bytes) else 0)


class CountingQueue(asyncio.Queue[Any]):
    """An unbounded queue that knows how many characters wait in it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = 0
        self.overflowed = False  # past the bound: its socket is being closed, nothing more is queued

    def _put(self, item: Any) -> None:
        super()._put(item)
        self.waiting += _size(item)

    def _get(self) -> Any:
        item = super()._get()
        self.waiting -= _size(item)
        return item

    def drop_all(self) -> int:
        """Empty it (its socket is closed); returns how many characters were dropped."""
        dropped = self.waiting
        while not self.empty():
            self.get_nowait()
            self.task_done()
        return dropped


class Bound:
    """The bound in force (settings: `OUTGOING_QUEUE_MAX_BYTES`), set by the web layer at start-up."""

    max_bytes: int = DEFAULT_MAX_BYTES


_tasks: set[asyncio.Task[None]] = set()
_websocket_scope = '_voiceconnect_websocket_scope'  # an AsyncSocket attribute: the ASGI scope of its websocket


def check_version(installed: str | None = None) -> None:
    from . import UntestedNiceGUI

    installed = installed or importlib.metadata.version('python-engineio')
    if installed != TESTED_ENGINEIO:
        raise UntestedNiceGUI(
            f'python-engineio {installed} is installed, but VoiceConnect patches internals of python-engineio '
            f'{TESTED_ENGINEIO} (web/nicegui_fixes/socket_backpressure.py): install the pinned requirements with '
            './scripts/bootstrap.sh, or check the fix against the new version first.'
        )


def set_bound(max_bytes: int) -> None:
    Bound.max_bytes = max_bytes


def install() -> None:
    check_version()
    server = core.sio.eio
    if getattr(server.send_packet, 'bounded', False):
        return
    server.create_queue = CountingQueue
    server.send_packet = _bounded(server, server.send_packet)
    AsyncSocket.handle_get_request = _remembering_the_websocket(AsyncSocket.handle_get_request)


def _bounded(server: engineio.AsyncServer, send_packet: SendPacket) -> SendPacket:
    async def bounded_send_packet(sid: str, pkt: Any) -> None:
        socket = server.sockets.get(sid)
        queue = getattr(socket, 'queue', None)
        if isinstance(socket, AsyncSocket) and isinstance(queue, CountingQueue):
            if queue.overflowed:
                return
            if queue.waiting and queue.waiting + _size(pkt) > Bound.max_bytes:
                disconnect_slow_reader(sid, queue.waiting)
                return
        await send_packet(sid, pkt)

    bounded_send_packet.bounded = True  # type: ignore[attr-defined]
    return bounded_send_packet


def _remembering_the_websocket(handle_get_request: HandleGet) -> HandleGet:
    """Keep the websocket's ASGI scope on the socket: it is how its TCP connection is found to abort it."""

    async def handle_get_request_remembered(socket: AsyncSocket, environ: dict[str, Any]) -> Any:
        scope = environ.get('asgi.scope')
        if isinstance(scope, dict) and scope.get('type') == 'websocket':
            setattr(socket, _websocket_scope, scope)
        return await handle_get_request(socket, environ)

    return handle_get_request_remembered


def _spawn(work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.create_task(work)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def disconnect_slow_reader(eio_sid: str, waiting: int) -> None:
    """The socket has `waiting` characters queued for a client that does not take them (here, or in a queue of the
    app's own before it): closed as after a network drop, with one WARNING line naming its user."""
    server: engineio.AsyncServer = core.sio.eio
    socket = server.sockets.get(eio_sid)
    queue = getattr(socket, 'queue', None)
    if not isinstance(socket, AsyncSocket) or not isinstance(queue, CountingQueue) or queue.overflowed:
        return
    queue.overflowed = True
    user = user_of(eio_sid)
    log.warning(
        '⚠️ Socket closed: %s does not read what is sent (%d KB waiting, at most %d KB); it may reconnect',
        user,
        waiting // 1024,
        Bound.max_bytes // 1024,
        extra={'user': user},
    )
    _spawn(_close(server, socket, queue))


async def _close(server: engineio.AsyncServer, socket: AsyncSocket, queue: CountingQueue) -> None:
    """Outside the sender's task: the disconnect handlers may send to other sockets."""
    queue.drop_all()
    with contextlib.suppress(Exception):  # the socket may be going away on its own meanwhile
        await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_ERROR)
    _abort_connection(getattr(socket, _websocket_scope, None))
    queue.drop_all()


def _abort_connection(scope: dict[str, Any] | None) -> None:
    """Abort the websocket's TCP connection in uvicorn (a polling socket has none to abort)."""
    from nicegui.server import Server

    if scope is None or getattr(Server, 'instance', None) is None:
        return
    for connection in list(Server.instance.server_state.connections):
        if getattr(connection, 'scope', None) is scope and (transport := getattr(connection, 'transport', None)):
            transport.abort()
            return


def user_of(eio_sid: str) -> str:
    """Whose socket this is, for the log: the user of its NiceGUI page or program connection."""
    from . import socket_guard

    sio: socketio.AsyncServer = core.sio
    for namespace in list(sio.manager.get_namespaces()):
        sid = sio.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is None:
            continue
        handler = sio.namespace_handlers.get(namespace)
        if namespace == '/':
            return socket_guard.who(sid)
        if handler is not None and (user := getattr(handler, 'user_of', lambda _: None)(sid)) is not None:
            return str(user)
    return 'a socket with no signed-in page'
