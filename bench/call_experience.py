"""The call experience's figures (issue 12), in real Chromium, with p50/p95:

- dashboard first paint with 50 history rows and 1,000 users known: navigation start → the 50th Recent calls row in
  the DOM (in the page, on an animation frame); next to the same dashboard of someone with no history (same run);
- a call's end → the row in the other party's Recent calls: the caller's click on `Cancel` → the new row in the
  callee's dashboard (epoch-ms timestamps taken in both pages; target ≤ 300 ms); next to the floor, a bare NiceGUI
  click → dialog in another client (bench/bare_dialog_app.py, as in bench/ring_voice.py), taking turns;
- a presence change → the other dashboard updated: `Do not disturb` switched in one page → the badge in the
  other's online list (with the 1,000 users known; only the two of them online).

Run it with `scripts/bench.sh call_experience [rounds]`.
"""

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from playwright.sync_api import Page, Playwright, expect, sync_playwright

from bench.ring_voice import FloorRig, percentile, settled, watch
from voiceconnect.people.db import Store
from voiceconnect.settings import Settings
from voiceconnect.testing.browser import launch_person, sign_in
from voiceconnect.testing.servers import AppServer

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = 'bench password'
KNOWN_USERS = 1000
HISTORY_ROWS = 50
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # what is measured here is not the hash

ROWS = '#vc-recent-calls + * .q-item'
PAINTED = (
    f"() => document.querySelectorAll({ROWS!r}).length >= %d || document.body.textContent.includes('No calls yet.')"
)
WATCH_ROWS = """([key, count]) => { window[key] = new Promise((resolve) => {
  const more = () => document.querySelectorAll('#vc-recent-calls + * .q-item').length > count;
  const observer = new MutationObserver(() => {
    if (more()) { observer.disconnect(); resolve(performance.timeOrigin + performance.now()); }
  });
  observer.observe(document.body, { childList: true, subtree: true });
}); }"""
WATCH_CLICK = """([key, name]) => { window[key] = new Promise((resolve) => {
  document.addEventListener('click', (event) => {
    if (event.target.closest('button')?.textContent.includes(name)) resolve(performance.timeOrigin + performance.now());
  }, { capture: true });
}); }"""
WATCH_BADGE = """([key, text]) => { window[key] = new Promise((resolve) => {
  const there = () => [...document.querySelectorAll('.q-badge')].some((b) => b.textContent.includes(text));
  const observer = new MutationObserver(() => {
    if (there()) { observer.disconnect(); resolve(performance.timeOrigin + performance.now()); }
  });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
}); }"""


def report(name: str, values: list[float]) -> None:
    print(
        f'{name:<58} n={len(values):<3} p50={statistics.median(values):7.1f} ms  p95={percentile(values, 95):7.1f} ms',
        flush=True,
    )


async def seed(data_dir: Path) -> None:
    """1,000 users, and alice with 50 finished calls (alternately incoming and outgoing, a few missed)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(Settings(data_dir=data_dir).database_url)
    await store.create_schema()
    hashed = CHEAP.hash(PASSWORD)
    for name in ['alice', 'bob', *(f'user{n:04d}' for n in range(KNOWN_USERS - 2))]:
        await store.add_user(name, hashed)
    start = datetime.now(UTC) - timedelta(days=3)
    for n in range(HISTORY_ROWS):
        peer = f'user{n:04d}'
        caller, callee = ('alice', peer) if n % 2 else (peer, 'alice')
        created = start + timedelta(minutes=37 * n)
        answered = created + timedelta(seconds=5) if n % 5 else None
        reason = 'completed' if answered else 'missed'
        ended = created + timedelta(seconds=95 if answered else 45)
        await store.finish_call(f'bench{n:03d}', caller, callee, created, answered, ended, reason)
    await store.close()


def first_paint(page: Page, url: str, rows: int) -> float:
    page.goto(url)
    page.wait_for_function(PAINTED % rows, polling='raf')
    return float(page.evaluate('performance.now()'))


def call_end_to_row(caller: Page, callee: Page, callee_name: str) -> float:
    caller.get_by_role('button', name=f'Call {callee_name}', exact=True).click()
    expect(callee.get_by_role('dialog')).to_be_visible()
    expect(caller.get_by_role('button', name='Cancel')).to_be_visible()
    shown = callee.locator(ROWS).count()
    clicked = watch(caller, WATCH_CLICK, 'Cancel')
    row = watch(callee, WATCH_ROWS, shown)
    caller.get_by_role('button', name='Cancel').click()
    elapsed = settled(callee, row) - settled(caller, clicked)
    caller.get_by_role('button', name='Back to dashboard').click()
    expect(caller.get_by_text('Online now')).to_be_visible()
    time.sleep(1.0)  # nobody calls again within a second; the floor's pages are idle between rounds too
    return elapsed


def presence_to_dashboard(switcher: Page, watcher: Page) -> float:
    """Do not disturb on in one page → its badge in the other's online list; then off again."""
    key = watch(watcher, WATCH_BADGE, 'Do not disturb')
    start = switcher.evaluate('performance.timeOrigin + performance.now()')  # just before the click
    switcher.get_by_role('switch', name='Do not disturb').click()
    elapsed = settled(watcher, key) - start
    switcher.get_by_role('switch', name='Do not disturb').click()
    expect(watcher.locator('.q-badge', has_text='Do not disturb')).to_have_count(0)
    time.sleep(0.3)
    return elapsed


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        asyncio.run(seed(tmp / 'data'))  # before Playwright's sync API takes this thread's event loop
        with sync_playwright() as playwright:
            measure(playwright, tmp, rounds)


def measure(playwright: Playwright, tmp: Path, rounds: int) -> None:
    overrides = {'ICE_SERVERS': '[]', 'CALLS_PER_MINUTE': 1000}
    server = AppServer(ROOT, tmp / 'data', tmp / 'server.log', overrides).start()
    alice = launch_person(playwright, 'alice', 440, tmp, PASSWORD)
    bob = launch_person(playwright, 'bob', 660, tmp, PASSWORD)
    floor = FloorRig(playwright, tmp)
    try:
        for person in (alice, bob):
            sign_in(person.page, server.url, person.name, PASSWORD)
            expect(person.page.get_by_text(f'Signed in as {person.name}')).to_be_visible()
        print(f'{KNOWN_USERS} users known, alice has {HISTORY_ROWS} past calls, bob none; {rounds} rounds')

        with_history, without = [], []
        for _ in range(rounds):
            with_history.append(first_paint(alice.page, server.url + '/', HISTORY_ROWS))
            without.append(first_paint(bob.page, server.url + '/', 0))
        report('dashboard first paint, 50 Recent calls rows', with_history)
        report('dashboard first paint, no history (same run)', without)

        to_row, dialog_floor = [], []
        for _ in range(rounds):  # taking turns: the machine's speed drifts
            to_row.append(call_end_to_row(bob.page, alice.page, 'alice'))
            dialog_floor.append(floor.ring()[0])
        report("call's end → row in the other party's Recent calls", to_row)
        report('floor: bare NiceGUI click → dialog in another client', dialog_floor)

        changes = [presence_to_dashboard(bob.page, alice.page) for _ in range(rounds)]
        report('presence change (Do not disturb) → other dashboard', changes)
    finally:
        for person in (alice, bob):
            person.close()
        floor.close()
        server.stop()


if __name__ == '__main__':
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
