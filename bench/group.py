"""Group calls in real Chromium browsers: join latency and browser CPU, in a mesh and on the Janus bridge.

Run it with `scripts/bench.sh group [trials] [--sizes 3,4,6,8]` (inside the private network namespace: the bridge is
the tests' real `JanusServer`, ICE on a veth pair).

- join: the invited person clicks `Accept` → their page hears every other participant (each one's tone above
  -60 dB: one stream per person in a mesh, the bridge's mix on Janus), timed in that page; beside it, the moment
  every other page hears the newcomer. For a call of N people the first N-1 are in the call, the N-th is added
  from `Add person`, accepts, is measured, hangs up, and is added again (`trials` times). With GROUP_MEDIA=bridge a
  call of three moves from its caller-callee leg to the bridge on every join, as it does in the product.
- 1:1 reference (same app, same measure): the callee accepts → hears the caller.
- floor (same run, same browsers): two RTCPeerConnections in one Chromium page, the fake microphone on one:
  offer → `connected`, and offer → the tone heard on the other (FLOORS.md: two Chromium peers connect 40-55 ms).
- browser CPU per participant: once the N-th has joined, the CPU (user + system, /proc) of each participant's whole
  Chromium (browser, renderer, audio and network processes) over WINDOW_S, as a share of one core; beside it the
  same browsers idle on the dashboard before the call.

Mesh and bridge take turns size by size (each with its own app and eight browsers), so the machine's drift over
minutes skews neither. Janus's own CPU per participant is `scripts/bench.sh janus` (aiortc peers, 8 to 32 of them).
Target (issue 20): join → hears everyone p50 ≤ 300 ms at 4 people.
"""

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from playwright.sync_api import Playwright, expect, sync_playwright

from bench.ring_voice import WATCH_CLICK, percentile, settled, watch
from voiceconnect.testing.browser import TONES_HZ, Person, launch_person, sign_up
from voiceconnect.testing.janus import JanusServer
from voiceconnect.testing.servers import AppServer

ROOT = Path(__file__).resolve().parents[1]
SETTLE_S = 1.0  # after a hang-up, before the next invitation: the pages finish tearing the links down
WINDOW_S = 5.0  # CPU window
TARGET_MS = 300.0  # at 4 people
HZ = os.sysconf('SC_CLK_TCK')

# First moment every tone of `tones` is above -60 dB (±max(15 Hz, a bin)) in one of the page's remote streams
# (#vc-remote-audio, the links' .vc-link-audio), checked every 5 ms; epoch ms.
WATCH_TONES = """([key, tones]) => { window[key] = new Promise((resolve) => {
  const ctx = new AudioContext();
  const seen = new Map(); // element → {stream, analyser, bins}
  const timer = setInterval(() => {
    if (ctx.state === 'suspended') ctx.resume();
    const elements = [document.getElementById('vc-remote-audio'), ...document.querySelectorAll('.vc-link-audio')];
    const best = tones.map(() => -200);
    const binHz = ctx.sampleRate / 2048;
    for (const el of elements) {
      const stream = el && el.srcObject;
      if (!stream || !stream.getAudioTracks || !stream.getAudioTracks().length) continue;
      let s = seen.get(el);
      if (!s || s.stream !== stream) {
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 2048;
        ctx.createMediaStreamSource(stream).connect(analyser);
        s = {stream, analyser, bins: new Float32Array(analyser.frequencyBinCount)};
        seen.set(el, s);
      }
      s.analyser.getFloatFrequencyData(s.bins);
      tones.forEach((hz, t) => {
        const reach = Math.max(15, binHz);
        for (let i = Math.max(1, Math.floor((hz - reach) / binHz)); i <= Math.ceil((hz + reach) / binHz); i++)
          if (s.bins[i] > best[t]) best[t] = s.bins[i];
      });
    }
    if (best.every((db) => db > -60)) {
      clearInterval(timer);
      ctx.close();
      resolve(performance.timeOrigin + performance.now());
    }
  }, 5);
}); }"""

# The floor: two peer connections in this page, the microphone on the first; [offer → connected, offer → heard] ms.
BARE_PEERS = """async (hz) => {
  const within = (promise, what) => Promise.race([promise, new Promise((_, fail) =>
    setTimeout(() => fail(new Error(`floor: ${what} not within 20 s`)), 20000))]);
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const ctx = new AudioContext();
  await within(ctx.resume(), 'AudioContext resume');
  const t0 = performance.now();
  const connected = new Promise((r) => (b.onconnectionstatechange = () =>
    b.connectionState === 'connected' && r(performance.now())));
  const sink = new Audio();  // Chromium feeds a remote track to WebAudio only while a media element plays it
  sink.muted = true;
  const heard = new Promise((r) => (b.ontrack = ({track}) => {
    const remote = new MediaStream([track]);
    sink.srcObject = remote;
    sink.play();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 2048;
    ctx.createMediaStreamSource(remote).connect(analyser);
    const bins = new Float32Array(analyser.frequencyBinCount), binHz = ctx.sampleRate / 2048;
    const timer = setInterval(() => {
      analyser.getFloatFrequencyData(bins);
      for (let i = Math.floor((hz - 15) / binHz); i <= Math.ceil((hz + 15) / binHz); i++)
        if (bins[i] > -60) { clearInterval(timer); r(performance.now()); return; }
    }, 5);
  }));
  a.addTrack(stream.getAudioTracks()[0], stream);
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  const result = [(await within(connected, 'connected')) - t0, (await within(heard, 'tone')) - t0];
  a.close(); b.close(); ctx.close(); sink.srcObject = null; stream.getTracks().forEach((t) => t.stop());
  return result;
}"""


def report(name: str, values: list[float], unit: str = 'ms', scale: float = 1.0) -> str:
    if not values:
        return f'{name:<44} (none)'
    p50, p95 = statistics.median(values) * scale, percentile(values, 95) * scale
    return f'{name:<44} n={len(values):<3} p50={p50:7.1f} {unit}  p95={p95:7.1f} {unit}  max={max(values) * scale:7.1f}'


# ---- CPU of a browser's process tree, from /proc


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as stat:
                    parent = int(stat.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry))
    return tree


def _tree_cpu_s(root: int, tree: dict[int, list[int]]) -> float:
    """User + system seconds of `root` and every live descendant."""
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f'/proc/{pid}/stat') as stat:
                fields = stat.read().rsplit(')', 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / HZ
        except (OSError, IndexError, ValueError):
            pass
        todo += tree.get(pid, [])
    return total


def browser_roots() -> set[int]:
    """Chromium main processes under this one (their `--type=` children are renderers, audio, network)."""
    tree, roots, todo = _children(), set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as cmd:
                argv = cmd.read().split(b'\0')
        except OSError:
            continue
        if b'chrom' in argv[0] and not any(a.startswith(b'--type=') for a in argv):
            roots.add(pid)
            continue
        todo += tree.get(pid, [])
    return roots


def cpu_share(roots: list[int], seconds: float) -> list[float]:
    """Each tree's share of one core over `seconds`."""
    before = _children()
    start = [_tree_cpu_s(root, before) for root in roots]
    time.sleep(seconds)
    after = _children()
    return [(_tree_cpu_s(root, after) - s) / seconds for root, s in zip(roots, start, strict=True)]


# ---- one app and its eight people


class Rig:
    """An app (mesh or bridge) with GROUP_MAX people signed in, each in their own Chromium with their own tone."""

    def __init__(self, playwright: Playwright, tmp: Path, mode: str, settings: dict[str, object], size: int) -> None:
        self.mode = mode
        overrides = {'ICE_SERVERS': '[]', 'CALLS_PER_MINUTE': 1000, 'GROUP_MAX': size, **settings}
        self.server = AppServer(ROOT, tmp / f'{mode}-data', tmp / f'{mode}.log', overrides).start()
        self.people: list[Person] = []
        self.roots: list[int] = []
        for i in range(size):
            known = browser_roots()
            person = launch_person(playwright, f'{mode}{i}', TONES_HZ[i], tmp)
            self.people.append(person)
            (root,) = browser_roots() - known
            self.roots.append(root)
            sign_up(person.page, self.server.url, person.name, 'bench password')

    def start(self, n: int) -> list[Person]:
        """A call of the first `n` people, each joined and hearing the others."""
        host, first, *more = self.people[:n]
        host.page.get_by_role('button', name=f'Call {first.name}').click()
        first.page.get_by_role('dialog').get_by_role('button', name='Accept').click()
        expect(host.page.get_by_text(f'In call with {first.name}')).to_be_visible()
        for i, person in enumerate(more):
            self.join(self.people[: 2 + i], person)
        return self.people[:n]

    def join(self, group: list[Person], newcomer: Person) -> tuple[float, float]:
        """The host adds `newcomer`, who accepts: [Accept → hears everyone, Accept → everyone hears them] ms."""
        host = group[0]
        host.page.get_by_role('button', name='Add person').click()
        host.page.get_by_role('textbox', name='Add person').fill(newcomer.name)
        host.page.get_by_role('button', name=f'Add {newcomer.name}').click()
        dialog = newcomer.page.get_by_role('dialog')
        expect(dialog).to_contain_text('invites you to a call')
        time.sleep(0.5)  # a person reads the dialog
        hears = watch(newcomer.page, WATCH_TONES, [p.tone_hz for p in group])
        heard = [watch(p.page, WATCH_TONES, [newcomer.tone_hz]) for p in group]
        accepted = watch(newcomer.page, WATCH_CLICK, 'Accept')
        dialog.get_by_role('button', name='Accept').click()
        t0 = settled(newcomer.page, accepted)
        everyone = max(settled(person.page, key) for person, key in zip(group, heard, strict=True))
        return settled(newcomer.page, hears) - t0, everyone - t0

    def leave(self, person: Person) -> None:
        person.page.get_by_role('button', name='Hang up').click()
        person.page.get_by_role('button', name='Back to dashboard').click()
        time.sleep(SETTLE_S)

    def end(self, group: list[Person]) -> None:
        """Everyone but one hangs up, one after the other; the last one's call ends with the one before."""
        for person in group[:-1]:
            person.page.get_by_role('button', name='Hang up').click()
            expect(person.page.get_by_text('Call ended')).to_be_visible()
        for person in group:
            back = person.page.get_by_role('button', name='Back to dashboard')
            expect(back).to_be_visible()
            back.click()
        time.sleep(SETTLE_S)

    def one_to_one(self) -> float:
        """The second accepts the first's call: Accept → hears the caller, ms."""
        caller, callee = self.people[:2]
        caller.page.get_by_role('button', name=f'Call {callee.name}').click()
        dialog = callee.page.get_by_role('dialog')
        expect(dialog).to_contain_text('Incoming call')
        time.sleep(0.5)
        hears = watch(callee.page, WATCH_TONES, [caller.tone_hz])
        accepted = watch(callee.page, WATCH_CLICK, 'Accept')
        dialog.get_by_role('button', name='Accept').click()
        took = settled(callee.page, hears) - settled(callee.page, accepted)
        self.end([caller, callee])
        return took

    def close(self) -> None:
        for person in self.people:
            person.close()
        self.server.stop()


class Results:
    def __init__(self) -> None:
        self.hears: dict[tuple[str, int], list[float]] = {}
        self.heard: dict[tuple[str, int], list[float]] = {}
        self.cpu: dict[tuple[str, int], list[float]] = {}
        self.idle: dict[str, list[float]] = {}
        self.one_to_one: list[float] = []
        self.floor_connected: list[float] = []
        self.floor_heard: list[float] = []


def measure_size(rig: Rig, n: int, trials: int, results: Results) -> None:
    group = rig.start(n - 1) if n > 2 else rig.people[:1]
    newcomer = rig.people[n - 1]
    for trial in range(trials):
        hears, heard = rig.join(group, newcomer)
        results.hears.setdefault((rig.mode, n), []).append(hears)
        results.heard.setdefault((rig.mode, n), []).append(heard)
        if trial == trials - 1:
            time.sleep(1.0)  # past the join's own work: the call as it goes on
            shares = cpu_share(rig.roots[:n], WINDOW_S)
            results.cpu.setdefault((rig.mode, n), []).extend(shares)
            rig.end([*group, newcomer])
        else:
            rig.leave(newcomer)


@contextmanager
def rigs(playwright: Playwright, tmp: Path, size: int) -> Iterator[tuple[Rig, Rig]]:
    with ExitStack() as stack:
        janus = stack.enter_context(JanusServer(tmp / 'janus'))
        bridge_settings: dict[str, object] = {
            'JANUS_URL': janus.url,
            'JANUS_API_SECRET': janus.api_secret,
            'JANUS_ADMIN_KEY': janus.admin_key,
            'GROUP_MEDIA': 'bridge',
        }
        mesh = Rig(playwright, tmp, 'mesh', {'GROUP_MEDIA': 'mesh', 'MESH_MAX': size}, size)
        stack.callback(mesh.close)
        bridge = Rig(playwright, tmp, 'bridge', bridge_settings, size)
        stack.callback(bridge.close)
        yield mesh, bridge


def run(playwright: Playwright, tmp: Path, sizes: list[int], trials: int, results: Results) -> None:
    with rigs(playwright, tmp, max(sizes)) as (mesh, bridge):
        print('  rigs up: idle CPU', flush=True)
        for rig in (mesh, bridge):
            time.sleep(2.0)
            results.idle[rig.mode] = cpu_share(rig.roots, WINDOW_S)
        print('  floor and 1:1', flush=True)
        floor_page = mesh.people[-1].page
        for _ in range(trials):
            connected, heard = floor_page.evaluate(BARE_PEERS, mesh.people[-1].tone_hz)
            results.floor_connected.append(connected)
            results.floor_heard.append(heard)
            results.one_to_one.append(mesh.one_to_one())
        for n in sizes:
            for rig in (mesh, bridge):
                measure_size(rig, n, trials, results)
                print(f'  measured {rig.mode} at {n}', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('trials', nargs='?', type=int, default=8)
    parser.add_argument('--sizes', default='3,4,6,8')
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(',')]
    results = Results()
    with tempfile.TemporaryDirectory() as tmp_dir, sync_playwright() as playwright:
        run(playwright, Path(tmp_dir), sizes, args.trials, results)
    print_results(results, sizes, args.trials)


def print_results(results: Results, sizes: list[int], trials: int) -> None:
    print(f'group calls in real Chromium, loopback only (Janus on a veth pair), {trials} joins per size')
    print('floor: two RTCPeerConnections in one page')
    print(report('  offer → connected', results.floor_connected))
    print(report('  offer → tone heard', results.floor_heard))
    print(report('1:1 call: Accept → hears the caller', results.one_to_one))
    print('join: Accept → the newcomer hears everyone / everyone hears the newcomer')
    for n in sizes:
        for mode in ('mesh', 'bridge'):
            print(report(f'  {mode:<6} {n} people: hears everyone', results.hears.get((mode, n), [])))
            print(report(f'  {mode:<6} {n} people: everyone hears them', results.heard.get((mode, n), [])))
    print('browser CPU per participant, % of one core (each Chromium with all its processes)')
    for mode in ('mesh', 'bridge'):
        print(report(f'  {mode:<6} idle on the dashboard', results.idle.get(mode, []), '%', 100))
        for n in sizes:
            print(report(f'  {mode:<6} in a call of {n}', results.cpu.get((mode, n), []), '%', 100))
    for mode in ('mesh', 'bridge'):
        if values := results.hears.get((mode, 4), []):
            p50 = statistics.median(values)
            print(f'{mode}: join → hears everyone p50 at 4 people = {p50:.0f} ms (target ≤ {TARGET_MS:.0f} ms)')


if __name__ == '__main__':
    main()
