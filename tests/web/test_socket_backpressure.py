"""The socket backpressure fix (web/nicegui_fixes/socket_backpressure.py): what waits to be sent on one socket is
bounded. python-engineio alone queues for a client that reads nothing without end; with the fix, the socket past
the bound is closed (its disconnect handlers run, what waited is dropped) and one WARNING line names it. A real
app process with a client that never reads: tests/security/test_connections.py."""

import asyncio
import logging

import engineio
import pytest
from engineio.async_socket import AsyncSocket
from nicegui import core

from web.nicegui_fixes import UntestedNiceGUI, socket_backpressure

MESSAGE = 'x' * 60_000  # a relayed answer of 60 KB


def unread_socket(server: engineio.AsyncServer, sid: str) -> AsyncSocket:
    """A connected socket whose client reads nothing: nobody takes what is queued for it."""
    socket = AsyncSocket(server, sid)
    socket.connected = True
    server.sockets[sid] = socket
    return socket


async def test_engineio_alone_queues_without_bound() -> None:
    """Why the fix exists: 100 messages of 60 KB for a client that reads nothing are all kept (6 MB), and nothing
    closes the socket."""
    server = engineio.AsyncServer(async_mode='asgi')
    socket = unread_socket(server, 'never-reads')
    for _ in range(100):
        await server.send('never-reads', MESSAGE)
    assert socket.queue.qsize() == 100
    assert not socket.closed


@pytest.fixture
def bounded(monkeypatch: pytest.MonkeyPatch) -> engineio.AsyncServer:
    """NiceGUI's engine.io server with the fix, and a bound of 1 MB."""
    socket_backpressure.install()
    monkeypatch.setattr(socket_backpressure.Bound, 'max_bytes', 1024 * 1024)
    return core.sio.eio


async def test_with_the_fix_a_socket_past_the_bound_is_closed_and_what_waited_is_dropped(
    bounded: engineio.AsyncServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger='voiceconnect')
    disconnected: list[str] = []

    async def on_disconnect(sid: str, reason: str) -> None:
        disconnected.append(reason)

    socket = unread_socket(bounded, 'never-reads')
    handlers = dict(bounded.handlers)
    bounded.handlers['disconnect'] = on_disconnect
    try:
        for _ in range(100):
            await bounded.send('never-reads', MESSAGE)
        await asyncio.sleep(0.05)  # the close runs outside the sender's task
    finally:
        bounded.handlers.clear()
        bounded.handlers.update(handlers)
        bounded.sockets.pop('never-reads', None)
    assert socket.closed
    assert disconnected == [bounded.reason.TRANSPORT_ERROR]  # as after a network drop: a page reconnects
    assert socket.queue.empty()
    lines = [r.getMessage() for r in caplog.records if 'Socket closed' in r.getMessage()]
    assert len(lines) == 1 and 'does not read what is sent' in lines[0] and 'at most 1024 KB' in lines[0]


async def test_with_the_fix_a_reading_client_and_one_large_message_pass(bounded: engineio.AsyncServer) -> None:
    """A client that reads never reaches the bound; a single message larger than it still goes to an empty queue."""
    socket = unread_socket(bounded, 'reads')
    try:
        for _ in range(100):
            await bounded.send('reads', MESSAGE)
            assert len(await socket.poll()) == 1  # what its writer does: take what is queued
        await bounded.send('reads', 'y' * 2 * 1024 * 1024)
        assert socket.queue.qsize() == 1
    finally:
        bounded.sockets.pop('reads', None)
    assert not socket.closed


def test_any_other_engineio_version_is_refused() -> None:
    socket_backpressure.check_version()
    with pytest.raises(UntestedNiceGUI, match=r'^python-engineio 4\.16\.0 is installed, but .* 4\.15\.1'):
        socket_backpressure.check_version('4.16.0')
