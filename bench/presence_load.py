"""Presence at scale, in real Chromium: N signed-in dashboards (one browser context each), then someone comes online.

For each N it prints, next to a bare NiceGUI app that appends a label to every open page (bench/bare_presence_app.py,
the floor, same run):

- server RSS per open dashboard, idle: after all signed in and IDLE_S more (NiceGUI keeps each page's recent
  messages 35 s for reconnects), minus the idle server's;
- server CPU for one arrival (someone whose browser is still signed in opens the app: page, socket, session resumed,
  the fan-out to every dashboard), and from the sizes run, the fixed part and the part per open dashboard;
- newcomer visible everywhere: from the newcomer's page load to the name in each dashboard's DOM (wall-clock
  timestamps taken in the pages), p50 / p99 over all dashboards and rounds;
- ring latency with N dashboards open: click `Call <name>` → the callee's dialog in its DOM, p50 / p95;
- with `--burst K` (at the largest N): K people sign up at once (argon2 at production cost, in a thread), while
  `/healthz` is timed every 20 ms: if hashing blocked the event loop, every page would stall with it.

Usage: `scripts/bench.sh presence_load [--sizes 25,100,250] [--rounds 10] [--rings 10] [--no-floor]`
"""

import argparse
import asyncio
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from voiceconnect.people.accounts import Accounts
from voiceconnect.people.db import Store
from voiceconnect.testing.audio import write_tone_wav
from voiceconnect.testing.browser import CHROMIUM, chromium_args
from voiceconnect.testing.servers import AppServer

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = 'bench password'
CONTEXTS_PER_BROWSER = 40  # one renderer each; a few browsers share the load better than one huge one
SIGN_IN_CONCURRENCY = 6
IDLE_S = 40
NEWCOMER = 'aaa-newcomer'  # sorts first, so it is on screen in every list
CALLER, CALLEE = 'aab-caller', 'aac-callee'
SETTINGS = {
    'RECONNECT_GRACE_S': 2,  # a newcomer who closes the page is gone again 2 s later
    'SIGNUPS_PER_HOUR_PER_ADDRESS': 100_000,
    'SIGNIN_FAILURES_PER_MINUTE_PER_ADDRESS': 100_000,
    'CALLS_PER_MINUTE': 1000,
}
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # what is measured here is not the hash

WATCH_NAME = """(name) => { window.__seen = new Promise((resolve) => {
  const there = () => document.body.textContent.includes('Call ' + name);
  if (there()) return resolve(Date.now());
  const observer = new MutationObserver(() => { if (there()) { observer.disconnect(); resolve(Date.now()); } });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
}); }"""
# in the newcomer's pages: when its socket is up (the server builds nothing for it before that)
NOTE_CONNECTED = """(() => {
  const watch = () => window.socket
    ? window.socket.on('connect', () => { window.__connectedAt = window.__connectedAt || Date.now(); })
    : setTimeout(watch, 5);
  watch();
})()"""
WATCH_GONE = """(name) => new Promise((resolve) => {
  const gone = () => !document.body.textContent.includes('Call ' + name);
  if (gone()) return resolve(true);
  const observer = new MutationObserver(() => { if (gone()) { observer.disconnect(); resolve(true); } });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
})"""
WATCH_CLICK = """(name) => { window.__clicked = new Promise((resolve) => {
  document.addEventListener('click', (event) => {
    if (event.target.closest('button')?.textContent.includes(name)) resolve(Date.now());
  }, { capture: true });
}); }"""
WATCH_DIALOG = """() => { window.__rang = new Promise((resolve) => {
  const seen = () => document.querySelector('[role=dialog]');
  const observer = new MutationObserver(() => { if (seen()) { observer.disconnect(); resolve(Date.now()); } });
  observer.observe(document.body, { childList: true, subtree: true });
}); }"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    raise RuntimeError('no VmRSS')


@dataclass
class Result:
    app: str
    n: int
    rss_per_page_mb: float
    arrival_cpu_ms: list[float] = field(default_factory=list)
    visible_ms: list[float] = field(default_factory=list)  # from the newcomer's page load
    after_socket_ms: list[float] = field(default_factory=list)  # from the newcomer's socket being up
    ring_ms: list[float] = field(default_factory=list)
    burst: str = ''

    def lines(self) -> list[str]:
        cpu = statistics.median(self.arrival_cpu_ms)
        lines = [
            f'{self.app:<13} N={self.n:<4} RSS/page {self.rss_per_page_mb:5.2f} MB   CPU/arrival p50 {cpu:7.1f} ms'
            f'   visible everywhere p50 {statistics.median(self.visible_ms):6.0f} ms'
            f' p99 {percentile(self.visible_ms, 99):6.0f} ms',
            f"{'':<13} N={self.n:<4} visible everywhere after the newcomer's socket is up:"
            f' p50 {statistics.median(self.after_socket_ms):6.0f} ms'
            f'  p99 {percentile(self.after_socket_ms, 99):6.0f} ms',
        ]
        if self.burst:
            lines.append(f'{"":<13} N={self.n:<4} {self.burst}')
        if self.ring_ms:
            lines.append(
                f'{"":<13} N={self.n:<4} ring p50 {statistics.median(self.ring_ms):6.1f} ms'
                f'  p95 {percentile(self.ring_ms, 95):6.1f} ms  (n={len(self.ring_ms)})'
            )
        return lines


class Browsers:
    """Contexts spread over several Chromium processes."""

    def __init__(self, playwright: Playwright, tmp: Path) -> None:
        self.playwright = playwright
        self.tone = write_tone_wav(tmp / 'tone.wav', 440, seconds=5)
        self.browsers: list[Browser] = []
        self.contexts = 0

    async def context(self) -> BrowserContext:
        if self.contexts % CONTEXTS_PER_BROWSER == 0:
            args = chromium_args(self.tone)
            self.browsers.append(
                await self.playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
            )
        self.contexts += 1
        context = await self.browsers[-1].new_context()
        context.set_default_timeout(60_000)
        return context

    async def close(self) -> None:
        for browser in self.browsers:
            await browser.close()


async def sign_in(context: BrowserContext, url: str, name: str) -> Page:
    page = await context.new_page()
    await page.goto(f'{url}/login')
    await page.get_by_label('Username').fill(name)
    await page.get_by_label('Password').fill(PASSWORD)
    await page.get_by_role('button', name='Sign in').click()
    await page.get_by_text(f'Signed in as {name}').wait_for()
    return page


async def in_batches(jobs: list[Callable[[], Awaitable[Page]]]) -> list[Page]:
    limit = asyncio.Semaphore(SIGN_IN_CONCURRENCY)

    async def run(job: Callable[[], Awaitable[Page]]) -> Page:
        async with limit:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


async def create_accounts(data_dir: Path, names: list[str]) -> None:
    store = Store(f'sqlite+aiosqlite:///{data_dir / "voiceconnect.db"}')
    accounts = Accounts(store, hasher=CHEAP)
    for name in names:
        await accounts.create(name, PASSWORD)
    await store.close()


async def settle(pid: int, seconds: float = 2.0, at_most: float = 10.0) -> None:
    """Wait `seconds`, and on until the server has a quiet half second (under 10% of a core; at most `at_most` s
    more)."""
    await asyncio.sleep(seconds)
    deadline = time.monotonic() + at_most
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before < 0.05:
            return


Arrive = Callable[[str], Awaitable[Page]]  # the newcomer (by this name) opens the app; returns its page


async def measure_arrivals(
    pid: int, pages: list[Page], arrive: Arrive, leave: Callable[[Page], Awaitable[None]], rounds: int, result: Result
) -> None:
    for round in range(rounds):
        name = NEWCOMER if result.app == 'VoiceConnect' else f'{NEWCOMER}{round}'  # the floor removes nobody
        await asyncio.gather(*(page.evaluate(WATCH_NAME, name) for page in pages))
        await settle(pid, 1.0)
        cpu_before, started = cpu_seconds(pid), time.time() * 1000
        newcomer = await arrive(name)
        try:
            seen = await asyncio.wait_for(asyncio.gather(*(page.evaluate('window.__seen') for page in pages)), 60)
        except TimeoutError:
            texts = [await page.evaluate('document.body.innerText') for page in pages[:2]]
            raise RuntimeError(f'{result.app}: the newcomer did not show up everywhere; pages say {texts}') from None
        result.arrival_cpu_ms.append((cpu_seconds(pid) - cpu_before) * 1000)
        result.visible_ms += [at - started for at in seen]
        connected = await newcomer.evaluate('window.__connectedAt')
        result.after_socket_ms += [at - connected for at in seen]
        await leave(newcomer)
        if result.app == 'VoiceConnect':
            await asyncio.gather(*(page.evaluate(WATCH_GONE, name) for page in pages))


async def measure_rings(pid: int, caller: Page, callee: Page, rings: int, result: Result) -> None:
    for _ in range(rings):
        await settle(pid, 1.0)
        await caller.evaluate(WATCH_CLICK, f'Call {CALLEE}')
        await callee.evaluate(WATCH_DIALOG)
        await caller.get_by_role('button', name=f'Call {CALLEE}').click()
        clicked, rang = await caller.evaluate('window.__clicked'), await callee.evaluate('window.__rang')
        result.ring_ms.append(rang - clicked)
        await callee.get_by_role('dialog').get_by_role('button', name='Decline').click()
        await caller.get_by_role('button', name='Back to dashboard').click()
        await caller.get_by_role('button', name=f'Call {CALLEE}').wait_for()


async def healthz_ms(url: str) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection('127.0.0.1', int(url.rsplit(':', 1)[1]))
    writer.write(b'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await writer.drain()
    await reader.read()
    writer.close()
    return (time.perf_counter() - started) * 1000


async def measure_burst(server: AppServer, browsers: 'Browsers', count: int) -> str:
    """`count` sign-ups at once, production argon2; /healthz timed meanwhile (and before, for comparison)."""
    idle = [await healthz_ms(server.url) for _ in range(20)]
    contexts = [await browsers.context() for _ in range(count)]

    async def sign_up(context: BrowserContext, name: str) -> Page:
        page = await context.new_page()
        await page.goto(f'{server.url}/login')
        await page.get_by_label('Username').fill(name)
        await page.get_by_label('Password').fill(PASSWORD)
        await page.get_by_role('button', name='Create account').click()
        await page.get_by_text(f'Signed in as {name}').wait_for()
        return page

    busy: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            busy.append(await healthz_ms(server.url))
            await asyncio.sleep(0.02)

    prober = asyncio.create_task(probe())
    started = time.perf_counter()
    await asyncio.gather(*(sign_up(c, f'burst-{i:03d}') for i, c in enumerate(contexts)))
    took = time.perf_counter() - started
    done.set()
    await prober
    return (
        f'{count} sign-ups at once took {took:.1f} s; /healthz meanwhile p50 {statistics.median(busy):.1f} ms'
        f' p99 {percentile(busy, 99):.1f} ms max {max(busy):.1f} ms (idle p50 {statistics.median(idle):.1f} ms)'
    )


async def voiceconnect_run(
    playwright: Playwright, n: int, rounds: int, rings: int, tmp: Path, burst: int = 0
) -> Result:
    server = AppServer(ROOT, tmp / f'vc-{n}', tmp / f'vc-{n}.log', SETTINGS)
    server.start()
    browsers = Browsers(playwright, tmp)
    try:
        pid = server.process.pid  # type: ignore[union-attr]
        others = [f'user-{i:04d}' for i in range(n - 2)]
        await create_accounts(server.data_dir, [NEWCOMER, CALLER, CALLEE, *others])
        await settle(pid, 1.0)
        idle_rss = rss_mb(pid)
        names = [CALLER, CALLEE, *others]
        contexts = [await browsers.context() for _ in names]
        pages = await in_batches(
            [functools.partial(sign_in, c, server.url, u) for c, u in zip(contexts, names, strict=True)]
        )
        newcomer_context = await browsers.context()
        await newcomer_context.add_init_script(NOTE_CONNECTED)
        await (await sign_in(newcomer_context, server.url, NEWCOMER)).close()  # its cookie stays signed in
        await asyncio.gather(*(page.evaluate(WATCH_GONE, NEWCOMER) for page in pages))
        await settle(pid, IDLE_S)
        result = Result('VoiceConnect', n, (rss_mb(pid) - idle_rss) / n)

        async def arrive(name: str) -> Page:
            page = await newcomer_context.new_page()
            await page.goto(server.url + '/')
            return page

        async def leave(page: Page) -> None:
            await page.close()

        await measure_arrivals(pid, pages, arrive, leave, rounds, result)
        if rings:
            await measure_rings(pid, pages[0], pages[1], rings, result)
        if burst:
            result.burst = await measure_burst(server, browsers, burst)
        return result
    finally:
        await browsers.close()
        server.stop()


async def floor_run(playwright: Playwright, n: int, rounds: int, tmp: Path) -> Result:
    server = AppServer(ROOT, tmp / f'floor-{n}', tmp / f'floor-{n}.log', script='bench/bare_presence_app.py')
    server.start()
    browsers = Browsers(playwright, tmp)
    try:
        pid = server.process.pid  # type: ignore[union-attr]
        await settle(pid, 1.0)
        idle_rss = rss_mb(pid)

        async def open_page(context: BrowserContext) -> Page:
            page = await context.new_page()
            await page.goto(server.url + '/')
            await page.get_by_text('Online now').wait_for()
            return page

        pages = await in_batches(
            [functools.partial(open_page, c) for c in [await browsers.context() for _ in range(n)]]
        )
        await settle(pid, IDLE_S)
        result = Result('bare NiceGUI', n, (rss_mb(pid) - idle_rss) / n)
        newcomer_context = await browsers.context()
        await newcomer_context.add_init_script(NOTE_CONNECTED)

        async def arrive(name: str) -> Page:
            page = await newcomer_context.new_page()
            await page.goto(f'{server.url}/?name={name}')
            return page

        async def leave(page: Page) -> None:
            await page.close()

        await measure_arrivals(pid, pages, arrive, leave, rounds, result)
        return result
    finally:
        await browsers.close()
        server.stop()


def fit(results: list[Result]) -> str:
    """CPU per arrival = fixed + per page * N, least squares over the sizes run."""
    xs = [r.n for r in results]
    ys = [statistics.median(r.arrival_cpu_ms) for r in results]
    if len(xs) < 2:
        return ''
    slope, intercept = statistics.linear_regression(xs, ys)
    return f'{results[0].app:<13} CPU per arrival ≈ {intercept:.1f} ms + {slope:.2f} ms per open dashboard'


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', default='25,100,250')
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--rings', type=int, default=10)
    parser.add_argument('--no-floor', action='store_true')
    parser.add_argument('--burst', type=int, default=0, help='sign-ups at once, at the largest N')
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(',')]
    ours, floors = [], []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        async with async_playwright() as playwright:
            for n in sizes:
                burst = options.burst if n == max(sizes) else 0
                ours.append(await voiceconnect_run(playwright, n, options.rounds, options.rings, tmp, burst))
                print('\n'.join(ours[-1].lines()), flush=True)
                if not options.no_floor:
                    floors.append(await floor_run(playwright, n, options.rounds, tmp))
                    print('\n'.join(floors[-1].lines()), flush=True)
    print()
    for results in (ours, floors):
        if results:
            print(fit(results))


if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
