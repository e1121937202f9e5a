"""What a stranger and a hostile signed-in user can make one process spend, beside a bare stack in the same run.

1. **Anonymous requests.** 1,000 requests without a cookie (half the sign-in page, half `/healthz`, 20 in flight)
   against one process with `REDIS_URL`: Redis `connected_clients` before, at its peak during, and after; the
   server's RSS before, right after, and 65 s later (NiceGUI prunes a page that never connected after 60 s), and
   the tracebacks in the log. Floor: a bare NiceGUI app with user storage in the same Redis
   (bench/bare_storage_app.py).
2. **A socket that never reads.** A signed-in program (the `/program` socket.io namespace) is called and answers,
   then stops reading its websocket while it keeps the connection alive with unasked pongs; its caller relays
   1,000 answers of the largest SDP the server accepts (60 KB, or the cap if smaller). The server's RSS growth
   after them and 3 s later, and whether the server closed the non-reading socket (the caller is told its peer is
   reconnecting). Floor: bare python-socketio relaying the same messages to the same kind of non-reader
   (bench/bare_relay_app.py).
3. **Events one user causes at every other tab.** 20 signed-in dashboards watch (python-socketio load clients, as
   bench/capacity.py); for 10 s one user toggles Do not disturb from her page's socket as fast as it sends, then
   signs a program in and out as fast as it can: socket messages naming her that each other tab receives, per
   second (median over the tabs), and the server CPU that took.

    scripts/bench.sh abuse
"""

import asyncio
import base64
import json
import re
import secrets
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import redis
import socketio

from bench.capacity import SECRET, Dashboard, ack_forever, sign_in_browsers
from bench.presence_load import cpu_seconds, rss_mb, settle
from voiceconnect.calls.signals import MAX_SDP
from voiceconnect.testing.servers import AppServer, RedisServer

ROOT = Path(__file__).resolve().parents[1]
SOCKET_PATH = '_nicegui_ws/socket.io'
ANONYMOUS = 1000
IN_FLIGHT = 20
LATER_S = 65.0  # NiceGUI prunes a page that never connected after 60 s
RELAYED = 1000
SDP_BYTES = min(60_000, MAX_SDP - 1024)
PACE_S = 1 / 45  # under the default SIGNALS_PER_SECOND (50)
OBSERVERS = 20
FLOOD_S = 10.0


# --- 1. anonymous requests ----------------------------------------------------------------------------------


def redis_clients(url: str) -> int:
    """Clients connected to Redis, not counting the one asking."""
    with redis.Redis.from_url(url) as client:
        return int(client.info('clients')['connected_clients']) - 1


async def anonymous_requests(url: str, page: str, redis_url: str) -> int:
    """ANONYMOUS requests with no cookie, IN_FLIGHT at a time; returns the peak of Redis clients meanwhile."""
    paths = [page if i % 2 == 0 else '/healthz' for i in range(ANONYMOUS)]
    gate = asyncio.Semaphore(IN_FLIGHT)
    peak = 0
    done = False

    async def watch() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, await asyncio.to_thread(redis_clients, redis_url))
            await asyncio.sleep(0.2)

    async def one(http: httpx.AsyncClient, path: str) -> None:
        async with gate:
            http.cookies.clear()  # every request a stranger's first
            await http.get(url + path)

    watcher = asyncio.create_task(watch())
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        await asyncio.gather(*(one(http, path) for path in paths))
    done = True
    await watcher
    return peak


def run_anonymous(name: str, script: str, page: str, tmp: Path, redis_server: RedisServer) -> None:
    redis_server.flush()
    overrides = {'REDIS_URL': redis_server.url, 'STORAGE_SECRET': SECRET, 'INSTANCE': f'abuse-{secrets.token_hex(2)}'}
    server = AppServer(ROOT, tmp / f'{name}-anon', tmp / f'{name}-anon.log', overrides, script=script).start(60)
    try:
        assert server.process is not None
        pid = server.process.pid
        asyncio.run(settle(pid, 2.0))
        clients_before, rss_before = redis_clients(redis_server.url), rss_mb(pid)
        peak = asyncio.run(anonymous_requests(server.url, page, redis_server.url))
        clients_after, rss_after = redis_clients(redis_server.url), rss_mb(pid)
        time.sleep(LATER_S)
        clients_later, rss_later = redis_clients(redis_server.url), rss_mb(pid)
        tracebacks = server.log_text().count('Traceback')
        print(
            f'{name:<14} {ANONYMOUS} anonymous requests: Redis clients {clients_before} → peak {peak} → '
            f'{clients_after} ({LATER_S:.0f} s later {clients_later}); RSS {rss_before:.0f} → {rss_after:.0f} MB '
            f'(+{rss_after - rss_before:.1f}; {LATER_S:.0f} s later {rss_later:.0f}); '
            f'tracebacks in the log: {tracebacks}',
            flush=True,
        )
    finally:
        server.stop()


# --- 2. a socket that never reads ---------------------------------------------------------------------------


class RawWebSocket:
    """A websocket client by hand over an asyncio stream, so that not reading really means not reading: the stream
    takes at most its 64 KiB limit from the kernel, then the kernel's buffers fill, then the server's own."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, url: str) -> 'RawWebSocket':
        parts = urllib.parse.urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=64 * 1024)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        writer.write(
            f'GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n'
            f'Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'.encode()
        )
        status = (await reader.readuntil(b'\r\n\r\n')).split(b' ', 2)[1]
        assert status == b'101', f'websocket refused: HTTP {status.decode()}'
        return cls(reader, writer)

    async def send(self, text: str, opcode: int = 0x1) -> None:
        data, mask = text.encode(), secrets.token_bytes(4)
        length = len(data)
        header = bytes([0x80 | opcode])
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 65536:
            header += bytes([0x80 | 126]) + struct.pack('!H', length)
        else:
            header += bytes([0x80 | 127]) + struct.pack('!Q', length)
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        await self.writer.drain()

    async def recv(self) -> str:
        """The next text frame (the server's websocket pings are answered on the way)."""
        while True:
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack('!H', await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack('!Q', await self.reader.readexactly(8))
            payload = await self.reader.readexactly(length)
            if first & 0x0F == 0x9:
                await self.send(payload.decode(), opcode=0xA)
            elif first & 0x0F == 0x1:
                return payload.decode()

    def abort(self) -> None:
        self.writer.transport.abort()


class NonReader:
    """An engine.io client that reads only until told to stop, then keeps its connection alive with unasked
    pongs (engine.io's and the websocket's) and never reads again."""

    def __init__(self, url: str, namespace: str = '', path: str = SOCKET_PATH) -> None:
        self.url = url.replace('http://', 'ws://') + f'/{path}/?EIO=4&transport=websocket'
        self.namespace = namespace  # '' for the default one
        self.ws: RawWebSocket | None = None
        self._pongs: asyncio.Task[None] | None = None
        self._acks = 0

    @property
    def prefix(self) -> str:
        return f'{self.namespace},' if self.namespace else ''

    async def connect(self, auth: dict[str, Any] | None = None) -> None:
        self.ws = await RawWebSocket.connect(self.url)
        await self.ws.recv()  # engine.io's open packet
        await self.ws.send(f'40{self.prefix}{json.dumps(auth) if auth else ""}')
        while not (await self.ws.recv()).startswith('40'):
            pass

    async def send(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send(text)

    async def _frames(self) -> AsyncIterator[str]:
        assert self.ws is not None
        while True:
            frame = await self.ws.recv()
            if frame == '2':
                await self.ws.send('3')
            else:
                yield frame

    async def emit(self, event: str, data: Any) -> Any:
        """An event with an acknowledgement: reads until the ack comes."""
        self._acks += 1
        ack = f'43{self.prefix}{self._acks}'
        await self.send(f'42{self.prefix}{self._acks}{json.dumps([event, data])}')
        async for frame in self._frames():
            if frame.startswith(ack):
                return json.loads(frame[len(ack) :])[0]

    async def next_event(self, name: str, test: Callable[[Any], bool] = lambda _: True) -> Any:
        async for frame in self._frames():
            if frame.startswith(f'42{self.prefix}'):
                event, *data = json.loads(frame[len(f'42{self.prefix}') :])
                if event == name and test(data[0] if data else None):
                    return data[0] if data else None

    def stop_reading(self) -> None:
        async def pong_forever() -> None:
            assert self.ws is not None
            while True:
                await asyncio.sleep(1)
                await self.ws.send('3')  # engine.io takes a pong as "alive", asked for or not
                await self.ws.send('', opcode=0xA)  # and so does the websocket

        self._pongs = asyncio.create_task(pong_forever())

    async def close(self) -> None:
        if self._pongs is not None:
            self._pongs.cancel()
        if self.ws is not None:
            self.ws.abort()


async def sign_in(http: httpx.AsyncClient, url: str, name: str, password: str) -> str:
    reply = await http.post(url + '/api/session', json={'name': name, 'password': password})
    reply.raise_for_status()
    return str(reply.json()['token'])


async def voiceconnect_non_reader(server: AppServer) -> None:
    caller_name, caller_password = server.add_user('m_sender')
    reader_name, reader_password = server.add_user('m_reader')
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        caller_token = await sign_in(http, server.url, caller_name, caller_password)
        reader_token = await sign_in(http, server.url, reader_name, reader_password)
    reader = NonReader(server.url, '/program')
    await reader.connect({'token': reader_token, 'client_key': secrets.token_urlsafe(12)})
    caller = socketio.AsyncClient(reconnection=False)
    reconnecting = asyncio.Event()
    caller.on('call', lambda view: reconnecting.set() if view.get('peer_reconnecting') else None, namespace='/program')
    await caller.connect(
        server.url,
        namespaces=['/program'],
        socketio_path=SOCKET_PATH,
        transports=['websocket'],
        auth={'token': caller_token, 'client_key': secrets.token_urlsafe(12)},
    )
    placing = asyncio.create_task(caller.call('call_user', {'name': reader_name}, namespace='/program'))
    ringing = await reader.next_event('call', lambda view: view['state'] == 'ringing')
    await reader.emit('accept', {'call_id': ringing['id']})
    await placing
    reader.stop_reading()

    async def relay(number: int) -> dict[str, Any]:
        sdp = f'v=0\r\na=x-{number}:' + 'x' * SDP_BYTES
        signal = {'kind': 'answer', 'call_id': ringing['id'], 'leg': ringing['leg'], 'sdp': sdp}
        await asyncio.sleep(PACE_S)  # within the signaling limit: over it, messages are dropped unrelayed
        return dict(await caller.call('signal', {'signal': signal}, namespace='/program', timeout=30))

    await measure_non_reader('VoiceConnect', server, relay, reconnecting)
    await caller.disconnect()
    await reader.close()


async def bare_non_reader(server: AppServer) -> None:
    reader = NonReader(server.url, path='socket.io')  # plain python-socketio's path
    await reader.connect()
    await reader.send('42' + json.dumps(['hello', 'reader']))
    reader.stop_reading()
    sender = socketio.AsyncClient(reconnection=False)
    await sender.connect(server.url, transports=['websocket'])

    async def relay(number: int) -> dict[str, Any]:
        await sender.emit('relay', {'to': 'reader', 'sdp': f'{number}:' + 'x' * SDP_BYTES})
        await asyncio.sleep(PACE_S)  # as to VoiceConnect
        return {}

    await measure_non_reader('bare socketio', server, relay, None)
    await sender.disconnect()
    await reader.close()


def kernel_queued_mb(port: int) -> float:
    """Bytes the kernel holds for the server's sockets on `port`, not yet taken by their peers (its Send-Q)."""
    lines = subprocess.run(
        ['ss', '-tnH', 'state', 'established', f'( sport = :{port} )'], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return sum(int(line.split()[1]) for line in lines) / 1e6


async def measure_non_reader(
    name: str, server: AppServer, relay: Callable[[int], Awaitable[dict[str, Any]]], closed: asyncio.Event | None
) -> None:
    assert server.process is not None
    pid = server.process.pid
    await settle(pid, 1.0)
    before = rss_mb(pid)
    refused: dict[str, int] = {}
    for number in range(RELAYED):
        answer = await relay(number)
        if 'error' in answer:
            refused[answer['error'][:60]] = refused.get(answer['error'][:60], 0) + 1
            await asyncio.sleep(0.05)  # over the signaling limit: wait as a well-behaved client would
    after = rss_mb(pid)
    await asyncio.sleep(3)
    later = rss_mb(pid)
    kernel = kernel_queued_mb(server.port)
    was_closed = 'n/a' if closed is None else ('yes' if closed.is_set() else 'no')
    print(
        f'{name:<14} {RELAYED} relayed messages of {SDP_BYTES // 1000} KB to a non-reading socket: RSS '
        f"+{after - before:.1f} MB (3 s later +{later - before:.1f} MB), in the kernel's send queue {kernel:.1f} MB; "
        f'server closed it: {was_closed}' + (f'; refused: {refused}' if refused else ''),
        flush=True,
    )


def run_non_reader(tmp: Path) -> None:
    floor = AppServer(ROOT, tmp / 'bare-relay', tmp / 'bare-relay.log', script='bench/bare_relay_app.py').start(60)
    try:
        asyncio.run(bare_non_reader(floor))
    finally:
        floor.stop()
    overrides = {'STORAGE_SECRET': SECRET, 'MEDIA_TIMEOUT_S': 600}  # no media flows here: the call must not fail
    server = AppServer(ROOT, tmp / 'vc-relay', tmp / 'vc-relay.log', overrides).start(60)
    try:
        asyncio.run(voiceconnect_non_reader(server))
    finally:
        server.stop()


# --- 3. events one user causes at every other tab -----------------------------------------------------------


def element_listener(html: str, tag: str, text: str, event: str) -> tuple[int, str]:
    """(element id, listener id) of the element `tag` showing `text` in a NiceGUI page: what a forger clicks with."""
    raw = re.search(r'parseElements\(String\.raw`(.*?)`\)', html, re.S)
    assert raw, 'not a NiceGUI page'
    body = raw.group(1)
    for escaped, plain in (('&#36;', '$'), ('&#96;', '`'), ('&gt;', '>'), ('&lt;', '<'), ('&amp;', '&')):
        body = body.replace(escaped, plain)
    for element_id, element in json.loads(body).items():
        if element.get('tag') == tag and element.get('text') == text:
            listeners = [e['listener_id'] for e in element.get('events', []) if e['type'] == event]
            assert listeners, f'{tag} {text!r} has no {event} listener: {element.get("events")}'
            return int(element_id), listeners[0]
    raise AssertionError(f'no {tag} {text!r} in the page')


async def flood(observers: list[Dashboard], name: str, pid: int, act: Callable[[], Awaitable[None]]) -> None:
    """Run `act` over and over for FLOOD_S; print what each observer heard of `name` per second."""
    counts = {id(o): 0 for o in observers}

    def heard(observer: Dashboard) -> Callable[[str, object], Awaitable[None]]:
        async def count(event: str, data: object = None) -> None:
            if name in json.dumps(data):
                counts[id(observer)] += 1

        return count

    for observer in observers:
        observer.sio.on('*', heard(observer))
    await settle(pid, 1.0)
    cpu_before, start, actions = cpu_seconds(pid), time.perf_counter(), 0
    while time.perf_counter() - start < FLOOD_S:
        await act()
        actions += 1
    await asyncio.sleep(2)  # what was caused reaches the observers
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(pid) - cpu_before
    per_tab = statistics.median(counts.values()) / FLOOD_S
    print(
        f'  {act.__name__:<32} {actions / FLOOD_S:7.1f} attempts/s → {per_tab:6.1f} messages/s at every other tab '
        f'(median of {len(observers)}); server CPU {cpu / elapsed * 100:.0f} % of a core',
        flush=True,
    )
    for observer in observers:
        observer.sio.handlers['/'].pop('*', None)


async def amplification(server: AppServer, pid: int, mallory: Dashboard, observers: list[Dashboard]) -> None:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        for dashboard in (*observers, mallory):
            await dashboard.open(http)
        acks = asyncio.create_task(ack_forever([*observers, mallory]))
        switch_id, listener = element_listener(mallory.html, 'q-toggle', 'Do not disturb', 'update:modelValue')
        on = False

        async def do_not_disturb_toggles() -> None:
            nonlocal on
            on = not on
            frame = {'id': switch_id, 'client_id': mallory.client_id, 'listener_id': listener, 'args': [json.dumps(on)]}
            await mallory.sio.emit('event', frame)
            await asyncio.sleep(0.005)

        await flood(observers, mallory.name, pid, do_not_disturb_toggles)
        bot_name, bot_password = server.add_user('m_bot')

        async def program_sign_in_and_out() -> None:
            reply = await http.post(server.url + '/api/session', json={'name': bot_name, 'password': bot_password})
            if reply.status_code != 200:
                await asyncio.sleep(0.05)
                return
            program = socketio.AsyncClient(reconnection=False)
            hello = {'token': reply.json()['token'], 'client_key': secrets.token_urlsafe(12)}
            try:
                await program.connect(
                    server.url, namespaces=['/program'], socketio_path=SOCKET_PATH, transports=['websocket'], auth=hello
                )
                await program.call('log_out', {}, namespace='/program', timeout=10)
            except (socketio.exceptions.ConnectionError, TimeoutError):
                await asyncio.sleep(0.05)
            finally:
                await program.disconnect()

        await flood(observers, bot_name, pid, program_sign_in_and_out)
        acks.cancel()
        await asyncio.gather(*(d.close() for d in (*observers, mallory)), return_exceptions=True)


def run_amplification(tmp: Path) -> None:
    observers = [Dashboard('', f'watcher{i:02d}') for i in range(OBSERVERS)]
    mallory = Dashboard('', 'mallory')
    data = tmp / 'vc-amplify'
    sign_in_browsers(data, [*observers, mallory])
    overrides = {'STORAGE_SECRET': SECRET}
    server = AppServer(ROOT, data, tmp / 'vc-amplify.log', overrides).start(60)
    try:
        assert server.process is not None
        for dashboard in (*observers, mallory):
            dashboard.url = server.url
        print(f'VoiceConnect   one user against {OBSERVERS} other signed-in tabs, {FLOOD_S:.0f} s each:', flush=True)
        asyncio.run(amplification(server, server.process.pid, mallory, observers))
    finally:
        server.stop()


def main() -> None:
    parts = set(sys.argv[1:]) or {'anonymous', 'non_reader', 'amplification'}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if 'anonymous' in parts:
            with RedisServer(tmp / 'redis') as redis_server:
                run_anonymous('bare NiceGUI', 'bench/bare_storage_app.py', '/', tmp, redis_server)
                run_anonymous('VoiceConnect', 'main.py', '/login', tmp, redis_server)
        if 'non_reader' in parts:
            run_non_reader(tmp)
        if 'amplification' in parts:
            run_amplification(tmp)


if __name__ == '__main__':
    main()
