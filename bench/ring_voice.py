"""Ring latency and voice-up latency over real browsers, with p50/p95, next to a bare NiceGUI floor.

- ring: click `Call <name>` → the callee's incoming-call dialog is in the DOM (timestamps taken in the pages)
- voice-up: click `Accept` → both sides detect the peer's tone in their remote audio
- floor: the same click → dialog measurement on a bare NiceGUI app (bench/bare_dialog_app.py), once with a
  page of a few elements (the issue's floor) and once with as many elements as the callee's dashboard (so page
  size is not what separates the two)

The three take turns call by call, each pair of browsers idle while another measures: this machine's speed
drifts by 20% over a few minutes, and measured one after the other the ratio swung between 1.2 and 1.6.

With `--cluster`, two more pairs take their turns on `scripts/cluster.sh 2` (Redis, two processes, HAProxy): one
pair served by the same process, one pair by different processes (the ring crosses Redis).

Run it with `scripts/bench.sh ring_voice [calls] [--cluster]` (inside a private loopback-only network namespace).
"""

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from playwright.sync_api import Page, Playwright, expect, sync_playwright

from voiceconnect.testing.browser import launch_person, sign_up
from voiceconnect.testing.servers import AppServer, Cluster

ROOT = Path(__file__).resolve().parents[1]
# Before each ring the pages get a second to finish the last call's teardown (peer connections closed, the
# microphone released, the dashboard redrawn): the floor's pages are idle too, and nobody calls again within a
# second of hanging up. Measured without it, the ring p50 was about 10 ms slower.
SETTLE_S = 1.0
DASHBOARD_ROWS = 5  # bare_dialog_app rows that give the callee's page about as many elements as the dashboard

# Timestamps in epoch milliseconds (timeOrigin + now), comparable between browser processes on one machine.
WATCH_CLICK = """([key, name]) => { window[key] = new Promise((resolve) => {
  document.addEventListener('click', (event) => {
    if (event.target.closest('button')?.textContent.includes(name)) resolve(performance.timeOrigin + performance.now());
  }, { capture: true, once: false });
}); }"""
WATCH_DIALOG = """(key) => { window[key] = new Promise((resolve) => {
  const seen = () => document.querySelector('[role=dialog]');
  const observer = new MutationObserver(() => {
    if (seen()) { observer.disconnect(); resolve(performance.timeOrigin + performance.now()); }
  });
  observer.observe(document.body, { childList: true, subtree: true });
}); }"""
# First moment the remote audio carries `hz` (±max(15 Hz, one bin)) above -60 dB, checked every 5 ms.
WATCH_TONE = """([key, hz]) => { window[key] = new Promise((resolve) => {
  const ctx = new AudioContext();
  let stream = null, analyser = null, bins = null;
  const timer = setInterval(() => {
    const audio = document.getElementById('vc-remote-audio');
    if (!audio || !audio.srcObject) return;
    if (audio.srcObject !== stream) {
      stream = audio.srcObject;
      analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      ctx.createMediaStreamSource(stream).connect(analyser);
      bins = new Float32Array(analyser.frequencyBinCount);
    }
    analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    const binHz = ctx.sampleRate / analyser.fftSize;
    if (bins[best] > -60 && Math.abs(best * binHz - hz) <= Math.max(15, binHz)) {
      clearInterval(timer);
      ctx.close();  // an open AudioContext keeps an audio thread busy: 20 calls would leave 20 of them
      resolve(performance.timeOrigin + performance.now());
    }
  }, 5);
}); }"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, values: list[float]) -> str:
    return (
        f'{name:<32} n={len(values):<3} p50={statistics.median(values):7.1f} ms  p95={percentile(values, 95):7.1f} ms'
        f'  min={min(values):7.1f}  max={max(values):7.1f}'
    )


def watch(page: Page, script: str, *args: object) -> str:
    """Start watching in the page; `settled(page, key)` later gives the epoch-ms timestamp it resolved with."""
    key = f'__bench_{id(script)}_{time.monotonic_ns()}'
    page.evaluate(script, [key, *args] if args else key)
    return key


def settled(page: Page, key: str, timeout_ms: int = 20_000) -> float:
    """The watched moment; fails after `timeout_ms` instead of waiting forever for something that never came."""
    return page.evaluate(
        f"""Promise.race([window[{key!r}], new Promise((_, fail) =>
            setTimeout(() => fail(new Error('not within {timeout_ms} ms: {key}')), {timeout_ms}))])"""
    )


# The callee's first peer connection up: it negotiates while it rings (its offer is the caller's "180 Ringing").
WATCH_CONNECTED = """(key) => { window[key] = new Promise((resolve) => {
  const timer = setInterval(() => {
    for (const [, call] of window.vc.calls) for (const [, leg] of call.legs)
      if (leg.pc.connectionState === 'connected') {
        clearInterval(timer);
        resolve(performance.timeOrigin + performance.now());
      }
  }, 2);
}); }"""


class Ring(NamedTuple):
    in_pages: float  # click event → dialog in the DOM, ms
    seen: float  # as a test sees it: Playwright click → dialog visible, ms
    clicked_at: float  # the click event, epoch ms in the caller's page


def measure_ring(caller: Page, callee: Page, button: str) -> Ring:
    """One ring: the caller clicks `button`, the callee's dialog shows."""
    clicked = watch(caller, WATCH_CLICK, button)
    shown = watch(callee, WATCH_DIALOG)
    start = time.perf_counter()
    caller.get_by_role('button', name=button).click()
    callee.get_by_role('dialog').wait_for()
    seen = (time.perf_counter() - start) * 1000
    clicked_at = settled(caller, clicked)
    return Ring(settled(callee, shown) - clicked_at, seen, clicked_at)


class FloorRig:
    """The bare NiceGUI app with a caller and a callee browser; `ring()` measures one dialog."""

    def __init__(self, playwright: Playwright, tmp: Path, rows: int = 0) -> None:
        data, log = tmp / f'floor-data-{rows}', tmp / f'floor-{rows}.log'
        self.server = AppServer(ROOT, data, log, script='bench/bare_dialog_app.py').start()
        self.caller = launch_person(playwright, f'a{rows}', 440, tmp)
        self.callee = launch_person(playwright, f'b{rows}', 660, tmp)
        self.caller.page.goto(self.server.url + '/')
        self.callee.page.goto(self.server.url + f'/?rows={rows}')  # the callee's page renders the dialog
        for person in (self.caller, self.callee):
            expect(person.page.get_by_role('button', name='Ring')).to_be_visible()

    def ring(self) -> Ring:
        measured = measure_ring(self.caller.page, self.callee.page, 'Ring')
        self.callee.page.get_by_role('button', name='Close').click()
        expect(self.callee.page.get_by_role('dialog')).to_have_count(0)
        return measured

    def close(self) -> None:
        self.caller.close()
        self.callee.close()
        self.server.stop()


@dataclass
class MeasuredCall:
    ring: Ring
    voice: float  # Accept → both sides hear the other's tone, ms
    connected: float | None = None  # Call click → the callee's peer connection connected, ms (when asked for)


class VoiceConnectRig:
    """VoiceConnect with a caller and a callee signed in; `call()` measures one ring and the voice-up after Accept.
    Given a running cluster (`scripts/cluster.sh`), the two browsers are kept on the instances in `on`."""

    def __init__(
        self,
        playwright: Playwright,
        tmp: Path,
        cluster: Cluster | None = None,
        on: tuple[str, str] = ('', ''),
        names: tuple[str, str] = ('alice', 'bob'),
        settings: dict[str, object] | None = None,
    ) -> None:
        self.server: AppServer | None = None
        if cluster is None:
            # one caller places every call, back to back: more than the default CALLS_PER_MINUTE allows a person
            overrides = {'ICE_SERVERS': '[]', 'CALLS_PER_MINUTE': 1000, **(settings or {})}
            name = f'vc-{len(list(tmp.glob("vc-*.log")))}'  # several rigs may share the directory
            self.server = AppServer(ROOT, tmp / f'{name}-data', tmp / f'{name}.log', overrides).start()
        url = cluster.url if cluster is not None else self.server.url  # type: ignore[union-attr]
        self.alice = launch_person(playwright, names[0], 440, tmp)
        self.bob = launch_person(playwright, names[1], 660, tmp)
        for person, instance in zip((self.alice, self.bob), on, strict=True):
            if instance:  # the balancer's sticky cookie, as if it had sent this browser there
                person.context.add_cookies([{'name': 'SRV', 'value': instance, 'url': url}])
            sign_up(person.page, url, person.name, 'bench password')

    def call(self, until_connected: bool = False) -> MeasuredCall:
        """One call, hung up once both hear each other; `until_connected` also times the callee's peer connection
        (which comes up while it rings, before Accept)."""
        alice, bob = self.alice, self.bob
        button = f'Call {bob.name}'
        expect(alice.page.get_by_role('button', name=button)).to_be_visible()
        time.sleep(SETTLE_S)
        connected = watch(bob.page, WATCH_CONNECTED) if until_connected else None
        ring = measure_ring(alice.page, bob.page, button)
        expect(alice.page.get_by_text(f'Calling {bob.name}…')).to_be_visible()
        setup = settled(bob.page, connected) - ring.clicked_at if connected else None
        time.sleep(1.0)  # a person takes a moment to answer
        hears_bob = watch(alice.page, WATCH_TONE, bob.tone_hz)
        hears_alice = watch(bob.page, WATCH_TONE, alice.tone_hz)
        accepted = watch(bob.page, WATCH_CLICK, 'Accept')
        bob.page.get_by_role('dialog').get_by_role('button', name='Accept').click()
        t_accept = settled(bob.page, accepted)
        voice = max(settled(alice.page, hears_bob), settled(bob.page, hears_alice)) - t_accept
        bob.page.get_by_role('button', name='Hang up').click()
        for person in (alice, bob):
            person.page.get_by_role('button', name='Back to dashboard').click()
        return MeasuredCall(ring, voice, setup)

    def close(self) -> None:
        self.alice.close()
        self.bob.close()
        if self.server is not None:
            self.server.stop()


def cluster_rigs(playwright: Playwright, tmp: Path) -> tuple[Cluster, VoiceConnectRig, VoiceConnectRig]:
    """Two processes over Redis behind HAProxy: one pair of people on one process, another pair across both."""
    cluster = Cluster(ROOT, tmp / 'cluster', n=2, overrides={'CALLS_PER_MINUTE': 1000}).start()
    same = VoiceConnectRig(playwright, tmp, cluster, ('app1', 'app1'), ('carol', 'dave'))
    across = VoiceConnectRig(playwright, tmp, cluster, ('app1', 'app2'), ('erin', 'frank'))
    return cluster, same, across


def main() -> None:
    args = [arg for arg in sys.argv[1:] if not arg.startswith('--')]
    with_cluster = '--cluster' in sys.argv
    runs = int(args[0]) if args else 20
    floor: list[Ring] = []
    sized_floor: list[Ring] = []
    ring: list[Ring] = []
    voice: list[float] = []
    same_ring: list[Ring] = []
    across_ring: list[Ring] = []
    with tempfile.TemporaryDirectory() as tmp_dir, sync_playwright() as playwright:
        tmp = Path(tmp_dir)
        floor_rig, sized_rig = FloorRig(playwright, tmp), FloorRig(playwright, tmp, DASHBOARD_ROWS)
        voiceconnect = VoiceConnectRig(playwright, tmp)
        rigs: list[FloorRig | VoiceConnectRig] = [floor_rig, sized_rig, voiceconnect]
        cluster = None
        try:
            if with_cluster:
                cluster, same, across = cluster_rigs(playwright, tmp)
                rigs += [same, across]
            for _ in range(runs):  # one of each in turn: a machine that slows down mid-run skews no side
                floor.append(floor_rig.ring())
                sized_floor.append(sized_rig.ring())
                measured = voiceconnect.call()
                ring.append(measured.ring)
                voice.append(measured.voice)
                if with_cluster:
                    same_ring.append(same.call().ring)
                    across_ring.append(across.call().ring)
        finally:
            for rig in rigs:
                rig.close()
            if cluster is not None:
                cluster.stop()
    print(f'ring and voice-up latency over {runs} calls, real Chromium, loopback only')
    for how, index in (('in the pages (click event → dialog in the DOM)', 0), ('as a Playwright test sees it', 1)):
        print(f'{how}:')
        print(report('  floor: bare NiceGUI dialog', [f[index] for f in floor]))
        print(report('  floor, dashboard-sized page', [f[index] for f in sized_floor]))
        print(report('  ring: Call → callee dialog', [r[index] for r in ring]))
        if with_cluster:
            print(report('  ring, 2 processes, same one', [r[index] for r in same_ring]))
            print(report('  ring, 2 processes, across', [r[index] for r in across_ring]))
    print(report('voice-up: Accept → both tones', voice))
    for how, index in (('in the pages', 0), ('as a test sees it', 1)):
        ring_p50 = statistics.median(r[index] for r in ring)
        ratio = ring_p50 / statistics.median(f[index] for f in floor)
        sized = ring_p50 / statistics.median(f[index] for f in sized_floor)
        print(f'ring p50 / floor p50 ({how}) = {ratio:.2f}  (target ≤ 1.3); / dashboard-sized floor = {sized:.2f}')
    if with_cluster:
        extra = statistics.median(r[0] for r in across_ring) - statistics.median(r[0] for r in same_ring)
        print(f'cross-process ring p50 − same-process p50 (in the pages) = {extra:+.1f} ms  (target ≤ +5 ms)')
    print('targets: ring p95 ≤ 150 ms, voice-up p50 ≤ 400 ms')


if __name__ == '__main__':
    main()
