"""Capacity of one process: signed-in dashboards held open, what each costs, and how fast news reaches them all.

A load client (python-socketio's asyncio client, no browser) holds N dashboards the way browsers do: each is a
browser (its own session cookie, signed in: its account is in the browser's user storage, as after a sign-in),
loads `/` over HTTP and connects NiceGUI's socket for that page. Then it measures, at each N:

- RSS per connected dashboard (the server's resident memory after the N, less what it was after the first few);
- handshakes per second (page load + socket connected, 20 in flight);
- presence fan-out: one more person signs in; from their socket being up to each of the N dashboards having
  received the news (a socket message naming them), p50 / p99 over everyone, 5 arrivals;
- with `--ring`, the ring latency between two real Chromium browsers (click → dialog in the callee's DOM, as in
  bench/ring_voice.py) while the N are online, p50 / p95.

The floor is the bare NiceGUI app of bench/bare_presence_app.py (one page per client, a label appended to every
page per arrival), loaded the same way in the same run.

    scripts/bench.sh capacity [N ...] [--ring] [--redis]      (default N: 100 500 1000)

With `--redis` the app runs with REDIS_URL (a redis-server started here): one process of several.
The load client runs on the same 2 cores as the server, so latencies include its own work.
"""

import ast
import asyncio
import base64
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import itsdangerous
import socketio
from playwright.sync_api import sync_playwright

from bench.presence_load import CHEAP, cpu_seconds, percentile, rss_mb, settle
from bench.ring_voice import measure_ring
from voiceconnect.people.accounts import Accounts
from voiceconnect.people.db import Store
from voiceconnect.testing.browser import launch_person, sign_up
from voiceconnect.testing.servers import AppServer, RedisServer

ROOT = Path(__file__).resolve().parents[1]
SECRET = 'capacity-bench-secret'
QUERY = re.compile(r'query: (\{.*?\}),\s*\n', re.S)
IN_FLIGHT = 20
ARRIVALS = 5


def session_cookie(browser_id: str) -> str:
    """The cookie Starlette's session middleware would have set for this browser id (signed with the secret)."""
    data = base64.b64encode(json.dumps({'id': browser_id}).encode())
    return itsdangerous.TimestampSigner(SECRET).sign(data).decode()


class Dashboard:
    """One browser tab, without a browser: page over HTTP, then NiceGUI's socket for it."""

    def __init__(self, url: str, name: str, path: str = '/') -> None:
        self.url = url
        self.name = name
        self.path = path
        self.browser_id = str(uuid.uuid4())
        self.sio = socketio.AsyncClient(reconnection=False)
        self.watching: dict[str, Callable[[], None]] = {}  # a name → what to do when a message names it
        self.client_id = ''
        self.html = ''  # the page as loaded (a forger reads element and listener ids out of it)
        self.next_id = 0  # the next message id expected (NiceGUI numbers its messages; a browser acks them)
        self.acked = 0
        self.sio.on('*', self._heard)

    async def open(self, http: httpx.AsyncClient) -> None:
        for attempt in range(3):  # a socket refused under a burst of handshakes is tried again, like a browser
            try:
                return await self._open(http)
            except socketio.exceptions.ConnectionError:
                if attempt == 2:
                    raise
                await asyncio.sleep(1)

    async def _open(self, http: httpx.AsyncClient) -> None:
        cookie = {'Cookie': f'session={session_cookie(self.browser_id)}'}
        page = await http.get(self.url + self.path, headers=cookie)
        page.raise_for_status()
        self.html = page.text
        match = QUERY.search(page.text)
        assert match, 'no socket parameters in the page'
        query = ast.literal_eval(match[1]) | {'document_id': str(uuid.uuid4()), 'tab_id': str(uuid.uuid4())}
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in query.items()}
        self.client_id, self.next_id = query['client_id'], int(query['next_message_id'])
        qs = '&'.join(f'{k}={v}' for k, v in query.items())
        await self.sio.connect(
            f'{self.url}?{qs}',
            headers=cookie,
            transports=['websocket'],
            socketio_path='/_nicegui_ws/socket.io',
            wait_timeout=30,  # a busy server answers a handshake late, not never
        )

    async def _heard(self, event: str, data: object = None) -> None:
        if isinstance(data, dict) and isinstance(data.get('_id'), int):
            self.next_id = max(self.next_id, data['_id'] + 1)
        if self.watching:
            text = json.dumps(data)
            for name in [n for n in self.watching if n in text]:
                self.watching.pop(name)()

    async def ack(self) -> None:
        """What a browser sends every 3 s: the messages it has, so the server drops them from its replay history."""
        if self.sio.connected and self.next_id > self.acked:
            await self.sio.emit('ack', {'client_id': self.client_id, 'next_message_id': self.next_id})
            self.acked = self.next_id

    async def close(self) -> None:
        await self.sio.disconnect()


async def ack_forever(dashboards: list[Dashboard]) -> None:
    while True:
        await asyncio.sleep(3)
        for dashboard in dashboards:
            await dashboard.ack()


def sign_in_browsers(data_dir: Path, dashboards: list[Dashboard]) -> None:
    """Accounts and sessions made ahead, and each browser's user storage holding its session: as after a sign-in."""

    async def make() -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        store = Store(f'sqlite+aiosqlite:///{data_dir / "voiceconnect.db"}')
        await store.create_schema()
        accounts = Accounts(store, hasher=CHEAP)
        storage = data_dir / 'nicegui'
        storage.mkdir(parents=True, exist_ok=True)
        for dashboard in dashboards:
            token = (await accounts.create(dashboard.name, 'capacity password')).token
            user = {'accounts': {dashboard.name: token}, 'last_used': dashboard.name}
            (storage / f'storage-user-{dashboard.browser_id}.json').write_text(json.dumps(user), encoding='utf-8')
        await store.close()

    asyncio.run(make())


async def open_all(http: httpx.AsyncClient, dashboards: list[Dashboard]) -> float:
    """Open them, IN_FLIGHT at a time; returns handshakes per second."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(dashboard: Dashboard) -> None:
        async with gate:
            await dashboard.open(http)

    start = time.perf_counter()
    await asyncio.gather(*(one(d) for d in dashboards))
    return len(dashboards) / (time.perf_counter() - start)


async def quiet(pid: int, seconds: float = 3.0) -> None:
    """presence_load's settle, with longer waits: a thousand sockets take a while to go quiet."""
    await settle(pid, seconds, at_most=20)


async def fan_out(http: httpx.AsyncClient, online: list[Dashboard], newcomer: Dashboard) -> list[float]:
    """ms from the newcomer's socket being up to each online dashboard having heard of them."""
    loop = asyncio.get_running_loop()
    heard: list[float] = []
    everyone = loop.create_future()

    def one_heard() -> None:
        heard.append(time.perf_counter())
        if len(heard) == len(online) and not everyone.done():
            everyone.set_result(None)

    for dashboard in online:
        dashboard.watching[newcomer.name] = one_heard
    await newcomer.open(http)
    up = time.perf_counter()
    try:
        await asyncio.wait_for(everyone, 60)
    except TimeoutError:
        print(f'  ! only {len(heard)} of {len(online)} heard of {newcomer.name} within 60 s')
    for dashboard in online:
        dashboard.watching.pop(newcomer.name, None)
    return [max(0.0, (t - up) * 1000) for t in heard]


def rings(url: str, count: int, tmp: Path) -> list[float]:
    """Ring latency in the pages between two real browsers (run in a thread: Playwright's sync API)."""
    measured: list[float] = []
    with sync_playwright() as playwright:
        caller = launch_person(playwright, 'aa_ring_caller', 440, tmp)
        callee = launch_person(playwright, 'aa_ring_callee', 660, tmp)
        try:
            for person in (caller, callee):
                person.context.set_default_timeout(60_000)  # a page built with hundreds online, on a busy machine
                sign_up(person.page, url, person.name, 'ring password')
                person.page.goto(url + '/')
            button = 'Call aa_ring_callee'  # first in the list: rows far down are not drawn (virtual scroll)
            caller.page.get_by_role('button', name=button).wait_for()
            for _ in range(count):
                time.sleep(1.0)
                measured.append(measure_ring(caller.page, callee.page, button)[0])
                caller.page.get_by_role('button', name='Hang up').click()
                caller.page.get_by_role('button', name='Back to dashboard').click()
                callee.page.get_by_role('dialog').wait_for(state='hidden')
        finally:
            caller.close()
            callee.close()
    return measured


async def measure(
    app: str, url: str, pid: int, dashboards: list[Dashboard], sizes: list[int], ring: bool, tmp: Path
) -> None:
    limits = httpx.Limits(max_connections=IN_FLIGHT * 2)
    acks = asyncio.create_task(ack_forever(dashboards))
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        warm = dashboards[:10]
        await open_all(http, warm)
        await quiet(pid)
        base_rss, opened = rss_mb(pid), 10
        for n in sizes:
            batch = dashboards[opened:n]
            rate = await open_all(http, batch)
            opened = n
            await quiet(pid)
            per_tab = (rss_mb(pid) - base_rss) / (n - 10) * 1024
            online = dashboards[:n]
            latencies: list[float] = []
            first = max(sizes) + ARRIVALS * sizes.index(n)
            arrivals = dashboards[first : first + ARRIVALS]  # newcomers, each used once
            cpu: list[float] = []
            for newcomer in arrivals:
                await quiet(pid, 1.0)
                before = cpu_seconds(pid)
                latencies += await fan_out(http, online, newcomer)
                cpu.append((cpu_seconds(pid) - before) * 1000)
                await newcomer.close()
            print(
                f'{app:<13} N={n:<5} RSS {rss_mb(pid):6.0f} MB, {per_tab:5.0f} KB per dashboard; '
                f'{rate:5.1f} handshakes/s; fan-out p50 {statistics.median(latencies):6.0f} ms '
                f'p99 {percentile(latencies, 99):6.0f} ms (n={len(latencies)}); server CPU per arrival '
                f'p50 {statistics.median(cpu):5.0f} ms',
                flush=True,
            )
            if ring and app == 'VoiceConnect':
                ring_ms = await asyncio.to_thread(rings, url, 10, tmp)
                print(
                    f'{"":<13} N={n:<5} ring p50 {statistics.median(ring_ms):6.1f} ms  '
                    f'p95 {percentile(ring_ms, 95):6.1f} ms  (real Chromium, {len(ring_ms)} calls)',
                    flush=True,
                )
        acks.cancel()
        await asyncio.gather(*(d.close() for d in dashboards[:opened]), return_exceptions=True)


def run(app: str, sizes: list[int], ring: bool, redis: RedisServer | None, tmp: Path) -> None:
    total = max(sizes) + ARRIVALS * len(sizes)
    names = [f'p{i:05d}' for i in range(total)]
    data = tmp / f'{app}-data'
    overrides: dict[str, object] = {'STORAGE_SECRET': SECRET, 'ICE_SERVERS': '[]', 'CALLS_PER_MINUTE': 1000}
    script = 'main.py'
    if app == 'VoiceConnect':
        if redis is not None:
            overrides['REDIS_URL'] = redis.url
        dashboards = [Dashboard('', name) for name in names]
        sign_in_browsers(data, dashboards)
    else:  # the bare app announces whoever opens `/?name=<who>`: its newcomers ask for that page
        script = 'bench/bare_presence_app.py'
        dashboards = [Dashboard('', name, '/' if i < max(sizes) else f'/?name={name}') for i, name in enumerate(names)]
    server = AppServer(ROOT, data, tmp / f'{app}.log', overrides, script=script)
    server.start(60)
    try:
        for dashboard in dashboards:
            dashboard.url = server.url
        assert server.process is not None
        asyncio.run(measure(app, server.url, server.process.pid, dashboards, sizes, ring, tmp))
    finally:
        server.stop()


def main() -> None:
    sizes = sorted(int(arg) for arg in sys.argv[1:] if arg.isdigit()) or [100, 500, 1000]
    ring, with_redis = '--ring' in sys.argv, '--redis' in sys.argv
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        redis = RedisServer(tmp / 'redis').start() if with_redis else None
        try:
            print(f'capacity of one process, python-socketio load client, {IN_FLIGHT} handshakes in flight')
            run('bare NiceGUI', sizes, False, None, tmp)
            run('VoiceConnect', sizes, ring, redis, tmp)
        finally:
            if redis is not None:
                redis.stop()
    print('targets: 1,000 dashboards in ≤ 500 MB; fan-out p99 ≤ 250 ms at 1,000; ring p95 ≤ 150 ms at 1,000 online')


if __name__ == '__main__':
    threading.excepthook = lambda args: print(f'thread failed: {args.exc_value!r}')
    main()
