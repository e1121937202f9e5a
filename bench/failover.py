"""Failover, in real Chromium with tones: how long until voice flows both ways again

- after kill -9 of the process serving one party (`scripts/cluster.sh 2`: Redis, two processes, HAProxy): from
  the kill, through that browser's page reloading on the other process, to both hearing each other;
- after a restart of a single process with REDIS_URL: from the restarted process answering /healthz to
  `Connected` in both pages, and to both hearing each other.

    scripts/bench.sh failover [runs]      (default 5; p50 and worst)
"""

import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, Playwright, expect, sync_playwright

from voiceconnect.testing.browser import Person, launch_person, sign_up
from voiceconnect.testing.probes import wait_for_tone
from voiceconnect.testing.servers import AppServer, Cluster, RedisServer

ROOT = Path(__file__).resolve().parents[1]


def person(playwright: Playwright, tmp: Path, url: str, tone: float, instance: str = '') -> Person:
    someone = launch_person(playwright, f'p{secrets.token_hex(3)}', tone, tmp)
    if instance:
        someone.context.add_cookies([{'name': 'SRV', 'value': instance, 'url': url}])
    sign_up(someone.page, url, someone.name, 'failover password')
    someone.page.goto(url + '/')
    return someone


def talk(alice: Person, bob: Person) -> None:
    alice.page.get_by_role('button', name=f'Call {bob.name}').click()
    bob.page.get_by_role('dialog').get_by_role('button', name='Accept').click()
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)


def both_hear(alice: Person, bob: Person) -> None:
    wait_for_tone(alice.page, bob.tone_hz, timeout=30)
    wait_for_tone(bob.page, alice.tone_hz, timeout=30)


def connected(page: Page) -> None:
    expect(page.get_by_text('Connected', exact=True)).to_be_visible(timeout=30_000)


def kill_runs(playwright: Playwright, tmp: Path, runs: int) -> list[float]:
    voice_back = []
    with Cluster(ROOT, tmp / 'cluster', n=2, overrides={'CALLS_PER_MINUTE': 1000}) as cluster:
        for run in range(runs):
            cluster.wait_serving('app2')  # started again after the last run's kill
            alice = person(playwright, tmp, cluster.url, 440, 'app1')
            bob = person(playwright, tmp, cluster.url, 660, 'app2')
            try:
                talk(alice, bob)
                start = time.perf_counter()
                with bob.page.expect_navigation(timeout=30_000):
                    cluster.kill('app2')
                cluster.wait_for_log(f'Call resumed after a reload: {bob.name}', 30)
                both_hear(alice, bob)
                voice_back.append(time.perf_counter() - start)
                print(
                    f'  kill -9 run {run + 1}: voice back both ways {voice_back[-1]:.2f} s after the kill', flush=True
                )
                bob.page.get_by_role('button', name='Hang up').click()
            finally:
                alice.close()
                bob.close()
    return voice_back


def restart_runs(playwright: Playwright, tmp: Path, runs: int) -> tuple[list[float], list[float]]:
    badge, voice_back = [], []
    with RedisServer(tmp / 'redis') as redis:
        overrides = {'REDIS_URL': redis.url, 'ICE_SERVERS': '[]', 'CALLS_PER_MINUTE': 1000}
        server = AppServer(ROOT, tmp / 'single', tmp / 'single.log', overrides).start()
        try:
            alice = person(playwright, tmp, server.url, 440)
            bob = person(playwright, tmp, server.url, 660)
            for run in range(runs):
                talk(alice, bob)
                server.stop()
                server.start()  # returns once /healthz answers 200
                answered = time.perf_counter()
                for someone in (alice, bob):
                    connected(someone.page)
                badge.append(time.perf_counter() - answered)
                both_hear(alice, bob)
                voice_back.append(time.perf_counter() - answered)
                print(
                    f'  restart run {run + 1}: Connected {badge[-1]:.2f} s, voice back {voice_back[-1]:.2f} s '
                    'after /healthz answered',
                    flush=True,
                )
                alice.page.get_by_role('button', name='Hang up').click()
                for someone in (alice, bob):
                    someone.page.get_by_role('button', name='Back to dashboard').click()
            alice.close()
            bob.close()
        finally:
            server.stop()
    return badge, voice_back


def summary(name: str, values: list[float]) -> str:
    return f'{name:<58} p50 {statistics.median(values):5.2f} s   worst {max(values):5.2f} s   (n={len(values)})'


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp_dir, sync_playwright() as playwright:
        tmp = Path(tmp_dir)
        killed = kill_runs(playwright, tmp, runs)
        badge, restarted = restart_runs(playwright, tmp, runs)
    print(f'failover over {runs} runs, real Chromium, loopback only')
    print(summary('kill -9 of a party’s process → voice back both ways', killed))
    print(summary('single process restart (Redis): /healthz → Connected', badge))
    print(summary('single process restart (Redis): /healthz → voice back', restarted))
    print('targets: voice back after kill -9 ≤ 5 s; after a restart ≤ 3 s; Connected within 2 s of /healthz')


if __name__ == '__main__':
    main()
