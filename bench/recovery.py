"""How long recovery takes, p50 and worst over N runs (default 5), in real Chromium on loopback:

- voice back after a reload: the caller's reloaded page has loaded → both sides hear the peer's tone
- voice back after 10 s without network: the network returns → both sides hear the peer's tone
- ringing stopped elsewhere: `Accept` clicked in one tab → the ringtone paused in the callee's other tab
- `Connected` after a restart: the restarted server answers /healthz → both pages show `Connected`

Run it with `scripts/bench.sh recovery [runs]` (it needs the private loopback-only network namespace).
"""

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bench.ring_voice import WATCH_CLICK, WATCH_TONE, settled, watch
from voiceconnect.testing.browser import Person, launch_person, sign_up
from voiceconnect.testing.servers import AppServer

ROOT = Path(__file__).resolve().parents[1]
WATCH_PAUSE = """([key, id]) => { window[key] = new Promise((resolve) => document.getElementById(id)
  .addEventListener('pause', () => resolve(performance.timeOrigin + performance.now()), { once: true })); }"""


def now_ms() -> float:
    return time.time() * 1000


def summary(name: str, values: list[float]) -> str:
    return f'{name:<44} n={len(values)}  p50={statistics.median(values):7.0f} ms  worst={max(values):7.0f} ms'


def start_call(alice: Person, bob: Person) -> None:
    alice.page.get_by_role('button', name=f'Call {bob.name}').click()
    bob.page.get_by_role('dialog').get_by_role('button', name='Accept').click()
    expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()


def end_call(alice: Person, bob: Person) -> None:
    alice.page.get_by_role('button', name='Hang up').click()
    for person in (alice, bob):
        person.page.get_by_role('button', name='Back to dashboard').click()


def both_hear(alice: Person, bob: Person, after: Callable[[], float]) -> float:
    """Start tone watchers on both sides, run `after` (returns the epoch-ms start), return ms until both hear."""
    heard = [watch(alice.page, WATCH_TONE, bob.tone_hz), watch(bob.page, WATCH_TONE, alice.tone_hz)]
    start = after()
    return max(settled(alice.page, heard[0]), settled(bob.page, heard[1])) - start


def voice_after_reload(alice: Person, bob: Person) -> float:
    start_call(alice, bob)
    both_hear(alice, bob, now_ms)
    alice.page.reload()
    loaded = alice.page.evaluate('performance.timeOrigin + performance.getEntriesByType("navigation")[0].loadEventEnd')
    heard = both_hear(alice, bob, lambda: loaded)
    end_call(alice, bob)
    return heard


def voice_after_outage(alice: Person, bob: Person) -> float:
    start_call(alice, bob)
    both_hear(alice, bob, now_ms)
    subprocess.run(['ip', 'link', 'set', 'lo', 'down'], check=True)
    time.sleep(10)

    def network_back() -> float:
        subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
        return now_ms()

    heard = both_hear(alice, bob, network_back)
    for person in (alice, bob):
        expect(person.page.get_by_text('Connected', exact=True)).to_be_visible(timeout=15_000)
    end_call(alice, bob)
    return heard


def ringing_stopped_elsewhere(alice: Person, bob: Person) -> float:
    bob_tab2 = bob.context.pages[1] if len(bob.context.pages) > 1 else bob.context.new_page()
    if not bob_tab2.url.startswith('http'):
        bob_tab2.goto(alice.page.url.split('/call')[0].rstrip('/') + '/')
        bob_tab2.get_by_text('Online now').click()  # a tab people have used: the browser lets it play sound
    alice.page.get_by_role('button', name=f'Call {bob.name}').click()
    expect(bob_tab2.get_by_role('dialog')).to_be_visible()
    expect(bob_tab2.locator('#vc-ringtone')).to_have_js_property('paused', False)
    paused = watch(bob_tab2, WATCH_PAUSE, 'vc-ringtone')
    clicked = watch(bob.page, WATCH_CLICK, 'Accept')
    bob.page.get_by_role('dialog').get_by_role('button', name='Accept').click()
    stopped = settled(bob_tab2, paused) - settled(bob.page, clicked)  # one browser: one clock
    expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()
    end_call(alice, bob)
    return stopped


def connected_after_restart(server: AppServer, alice: Person, bob: Person) -> float:
    server.stop()
    server.start()  # returns once /healthz answers
    up = time.perf_counter()
    for person in (alice, bob):
        expect(person.page.get_by_text('Connected', exact=True)).to_be_visible(timeout=30_000)
        expect(person.page.get_by_text(f'Signed in as {person.name}')).to_be_visible()
    return (time.perf_counter() - up) * 1000


SCENARIOS: list[tuple[str, Callable[[AppServer, Person, Person], float]]] = [
    ('voice back after a reload', lambda server, alice, bob: voice_after_reload(alice, bob)),
    ('voice back after 10 s offline', lambda server, alice, bob: voice_after_outage(alice, bob)),
    ('ringtone stopped in the other tab', lambda server, alice, bob: ringing_stopped_elsewhere(alice, bob)),
    ('Connected after a server restart', connected_after_restart),
]


def main() -> None:
    if [name for _, name in socket.if_nameindex()] != ['lo']:
        sys.exit('run inside the private network namespace: scripts/bench.sh recovery')
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    results: dict[str, list[float]] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_dir, sync_playwright() as playwright:
        tmp = Path(tmp_dir)
        settings = {'RECONNECT_GRACE_S': 60, 'CALLS_PER_MINUTE': 1000}  # a call per run, back to back
        with AppServer(ROOT, tmp / 'data', tmp / 'server.log', settings) as server:
            for number, (name, scenario) in enumerate(SCENARIOS):  # fresh browsers per scenario: no carry-over
                alice = launch_person(playwright, f'alice{number}', 440, tmp)
                bob = launch_person(playwright, f'bob{number}', 660, tmp)
                for person in (alice, bob):
                    sign_up(person.page, server.url, person.name, 'bench password')
                try:
                    for _ in range(runs):
                        results.setdefault(name, []).append(scenario(server, alice, bob))
                        print(f'{name}: {results[name][-1]:.0f} ms', file=sys.stderr, flush=True)
                except Exception as error:  # report it and measure the rest: a benchmark that stops says less
                    failures.append(f'{name}: run {len(results.get(name, [])) + 1} failed: {error}'.splitlines()[0])
                alice.close()
                bob.close()
    print(f'recovery times over {runs} runs, real Chromium, loopback only')
    for name, values in results.items():
        if values:
            print(summary(name, values))
    for failure in failures:
        print('FAILED', failure)


if __name__ == '__main__':
    main()
