"""What a person hears, measured in their page without a user gesture (`peek`): which tone the remote audio
`<audio id="vc-remote-audio">` carries (`wait_for_tone`, `wait_for_silence`, `remote_peak_hz`), whether the
ringtone or ringback `<audio>` really plays (`is_playing`), whether the page has user activation. In a group call:
`wait_for_voices` (a stream per other person: a mesh) and `wait_for_mix` (one stream mixing them: the bridge).

Without activation, ``<audio>.play()`` rejects with ``NotAllowedError`` and an ``AudioContext`` stays
``suspended`` -- EXCEPT while the document captures the microphone: then both are allowed. A reload drops
activation. So ``remote_peak_hz`` (and the waits built on it) resumes its ``AudioContext`` with a gesture only when
the page neither had one nor captures the mic, which a page in a call never is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from playwright.sync_api import Page

from .browser import peek
from .waiting import wait_until

LEVEL_THRESHOLD_DB = -60.0
STEADY_READINGS = 2  # readings in a row a wait needs before it trusts what it hears: one glitch proves nothing

R = TypeVar('R')  # one reading, as the page gave it
S = TypeVar('S')  # a reading that counts towards a steady run


def _steady(
    read: Callable[[], R],
    accept: Callable[[R], S | None],
    failure: Callable[[R], str],
    timeout: float,
    interval: float,
    needed: int = STEADY_READINGS,
) -> S:
    """Read every `interval` s until `accept` takes `needed` readings in a row, and return what it made of the last
    one; on timeout fail with an AssertionError saying `failure(the last reading)`, so it shows what was heard."""
    last: list[R] = []  # the latest reading, once there is one
    streak = 0

    def steady() -> tuple[S] | None:
        nonlocal streak
        last[:] = [read()]
        taken = accept(last[0])
        streak = streak + 1 if taken is not None else 0
        return (taken,) if taken is not None and streak >= needed else None  # boxed: an empty list counts too

    return wait_until(steady, lambda: failure(last[0]) if last else 'nothing read', timeout, interval)[0]


def has_user_activation(page: Page) -> bool:
    """Whether the document ever had a user gesture, i.e. whether autoplay with sound is unlocked."""
    return bool(peek(page, 'navigator.userActivation.hasBeenActive'))


# Cached on window; rebuilt when the app attaches another stream or track (a new call).
_MEASURE_JS = """(async () => {
  const el = document.getElementById('vc-remote-audio');
  const stream = el && el.srcObject;
  const track = stream && stream.getAudioTracks ? stream.getAudioTracks()[0] : null;
  if (!track) return {ready: false, reason: 'no remote audio track on #vc-remote-audio'};
  if (track.readyState !== 'live') return {ready: false, reason: 'remote track ' + track.readyState};
  let p = window.__vcProbe;
  if (!p || p.stream !== stream || p.trackId !== track.id) {
    if (p) p.ctx.close();
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;  // each poll sees the present, not a decaying past
    ctx.createMediaStreamSource(stream).connect(analyser);
    p = window.__vcProbe = {stream, trackId: track.id, ctx, analyser, created: performance.now(),
                            bins: new Float32Array(analyser.frequencyBinCount)};
  }
  if (p.ctx.state !== 'running') {
    await Promise.race([p.ctx.resume().catch(() => {}), new Promise(r => setTimeout(r, 200))]);
  }
  if (p.ctx.state !== 'running') return {ready: false, suspended: true, reason: 'AudioContext ' + p.ctx.state};
  if (performance.now() - p.created < 250) return {ready: false, reason: 'analyser warming up'};
  p.analyser.getFloatFrequencyData(p.bins);
  let best = 1;
  for (let i = 2; i < p.bins.length; i++) if (p.bins[i] > p.bins[best]) best = i;
  const db = Number.isFinite(p.bins[best]) ? p.bins[best] : -200;
  return {ready: true, hz: best * p.ctx.sampleRate / p.analyser.fftSize, db};
})()"""


@dataclass
class Peak:
    hz: float
    db: float


def _measure(page: Page) -> Peak | str:
    """One analyser reading of the remote audio, or the reason there is none yet."""
    result = peek(page, _MEASURE_JS)
    if result.get('suspended'):
        # An AudioContext needs user activation; only here does the harness grant a gesture.
        page.evaluate('() => window.__vcProbe && window.__vcProbe.ctx.resume()')
        result = peek(page, _MEASURE_JS)
    if not result.get('ready'):
        return str(result.get('reason'))
    return Peak(float(result['hz']), float(result['db']))


def _poll(page: Page, timeout: float, done: Callable[[Peak], bool], what: str, needed: int = STEADY_READINGS) -> Peak:
    """Poll the analyser until `done` holds for `needed` readings in a row."""

    def accept(reading: Peak | str) -> Peak | None:
        return reading if isinstance(reading, Peak) and done(reading) else None

    def failure(last: Peak | str) -> str:
        shown = f'{last.hz:.1f} Hz at {last.db:.1f} dB' if isinstance(last, Peak) else last
        return f'{what}; last remote peak: {shown}'

    return _steady(lambda: _measure(page), accept, failure, timeout, interval=0.15, needed=needed)


def remote_peak(page: Page, timeout: float = 10) -> Peak:
    """Loudest frequency bin of the remote audio and its level, once a reading is possible."""
    return _poll(page, timeout, lambda _: True, 'no reading of #vc-remote-audio', needed=1)


def remote_peak_hz(page: Page, timeout: float = 10) -> float:
    return remote_peak(page, timeout).hz


def wait_for_tone(
    page: Page, hz: float, tol: float = 15, timeout: float = 15, threshold_db: float = LEVEL_THRESHOLD_DB
) -> Peak:
    """Assert the remote audio carries `hz` (the peer's tone), loud enough to be more than noise."""
    return _poll(
        page, timeout, lambda p: abs(p.hz - hz) <= tol and p.db > threshold_db, f'remote audio did not carry {hz:g} Hz'
    )


def wait_for_silence(page: Page, timeout: float = 10, threshold_db: float = LEVEL_THRESHOLD_DB) -> Peak:
    """Assert the remote audio is live but silent (e.g. the peer muted)."""
    return _poll(page, timeout, lambda p: p.db < threshold_db, 'remote audio did not fall silent')


_IS_PLAYING_JS = """(async (id) => {
  const el = document.getElementById(id);
  if (!el || el.paused || el.ended) return false;
  const t0 = el.currentTime;
  await new Promise(r => setTimeout(r, 300));
  return !el.paused && el.currentTime > t0;
})(%s)"""


def is_playing(page: Page, element_id: str) -> bool:
    """Whether <audio id=element_id> exists, is not paused and its time advances (autoplay really worked)."""
    return bool(peek(page, _IS_PLAYING_JS % json.dumps(element_id)))


# A recorded sound the page plays from a URL (a voicemail message's player): played through an analyser, so what is
# measured is what the person hears from that element.
_PLAYBACK_JS = """(async (label) => {
  const el = [...document.querySelectorAll('audio')].find(a => a.getAttribute('aria-label') === label);
  if (!el) return {ready: false, reason: 'no <audio> labelled ' + label};
  let p = el.__vcProbe;
  if (!p) {
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    const source = ctx.createMediaElementSource(el);
    source.connect(analyser);
    analyser.connect(ctx.destination);
    p = el.__vcProbe = {ctx, analyser, bins: new Float32Array(analyser.frequencyBinCount)};
    el.play().catch((e) => (p.error = String(e)));
  }
  if (p.error) return {ready: false, reason: 'play() refused: ' + p.error};
  if (p.ctx.state !== 'running') await p.ctx.resume().catch(() => {});
  if (el.paused || el.currentTime < 0.3) return {ready: false, reason: 'not playing yet (' + el.currentTime + ' s)'};
  p.analyser.getFloatFrequencyData(p.bins);
  let best = 1;
  for (let i = 2; i < p.bins.length; i++) if (p.bins[i] > p.bins[best]) best = i;
  const db = Number.isFinite(p.bins[best]) ? p.bins[best] : -200;
  return {ready: true, hz: best * p.ctx.sampleRate / p.analyser.fftSize, db};
})(%s)"""


def wait_for_playback_tone(
    page: Page, label: str, hz: float, tol: float = 15, timeout: float = 15, threshold_db: float = LEVEL_THRESHOLD_DB
) -> Peak:
    """Play the `<audio>` labelled `label` and assert what it plays carries `hz`, loud enough to be more than noise
    (a page with user activation: the harness's people clicked their way in)."""
    last: dict[str, object] = {}

    def heard() -> Peak | None:
        nonlocal last
        last = peek(page, _PLAYBACK_JS % json.dumps(label))
        if not last.get('ready'):
            return None
        peak = Peak(float(last['hz']), float(last['db']))  # type: ignore[arg-type]
        return peak if abs(peak.hz - hz) <= tol and peak.db > threshold_db else None

    return wait_until(heard, lambda: f'{label} did not play {hz:g} Hz; last reading: {last}', timeout, interval=0.15)


# A group call: each remote stream plays in its own <audio> (#vc-remote-audio for the caller-callee leg, one
# `.vc-link-audio` per link), each measured on its own analyser, kept on its element until its track changes.
# `tones`: also the level at each of these frequencies (the loudest bin within `tol` Hz), for a stream that mixes
# several voices (a media bridge's).
_VOICES_JS = """(async ([tones, tol]) => {
  const elements = [document.getElementById('vc-remote-audio'), ...document.querySelectorAll('.vc-link-audio')];
  const peaks = [];
  for (const el of elements) {
    const stream = el && el.srcObject;
    const track = stream && stream.getAudioTracks ? stream.getAudioTracks()[0] : null;
    if (!track || track.readyState !== 'live') continue;
    let p = el.__vcVoice;
    if (!p || p.stream !== stream || p.trackId !== track.id) {
      if (p) p.ctx.close();
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      analyser.smoothingTimeConstant = 0;
      ctx.createMediaStreamSource(stream).connect(analyser);
      p = el.__vcVoice = {stream, trackId: track.id, ctx, analyser, created: performance.now(),
                          bins: new Float32Array(analyser.frequencyBinCount)};
    }
    if (p.ctx.state !== 'running')
      await Promise.race([p.ctx.resume().catch(() => {}), new Promise(r => setTimeout(r, 200))]);
    if (p.ctx.state !== 'running' || performance.now() - p.created < 250) continue;
    p.analyser.getFloatFrequencyData(p.bins);
    let best = 1;
    for (let i = 2; i < p.bins.length; i++) if (p.bins[i] > p.bins[best]) best = i;
    const binHz = p.ctx.sampleRate / p.analyser.fftSize;
    const level = (i) => Number.isFinite(p.bins[i]) ? p.bins[i] : -200;
    const at = tones.map((hz) => {
      let db = -200;
      for (let i = Math.max(1, Math.floor((hz - tol) / binHz)); i <= Math.ceil((hz + tol) / binHz); i++)
        db = Math.max(db, level(i));
      return db;
    });
    peaks.push({hz: best * binHz, db: level(best), at});
  }
  return peaks;
})(%s)"""


def voices(page: Page, threshold_db: float = LEVEL_THRESHOLD_DB) -> list[float]:
    """The peak frequency of each remote stream the page plays now, louder than noise (one per other person)."""
    return sorted(float(p['hz']) for p in _streams(page) if float(p['db']) > threshold_db)


def _streams(page: Page, tones_hz: list[float] | None = None, tol: float = 15) -> list[dict]:  # type: ignore[type-arg]
    return list(peek(page, _VOICES_JS % json.dumps([tones_hz or [], tol])))


def hears_exactly(heard: list[float], tones_hz: list[float], tol: float = 15) -> bool:
    """Whether `heard` is one stream per tone, each within `tol` of its own (nobody missing, nobody doubled)."""
    wanted = sorted(tones_hz)
    return len(heard) == len(wanted) and all(abs(h - w) <= tol for h, w in zip(heard, wanted, strict=True))


def wait_for_voices(page: Page, tones_hz: list[float], tol: float = 15, timeout: float = 20) -> list[float]:
    """Assert the page plays exactly these tones, one stream each (a group call: everyone else, not itself),
    in two readings in a row."""
    wanted = ', '.join(f'{hz:g}' for hz in sorted(tones_hz))

    def accept(heard: list[float]) -> list[float] | None:
        return heard if hears_exactly(heard, tones_hz, tol) else None

    def failure(heard: list[float]) -> str:
        return f'did not hear exactly {wanted} Hz; heard {heard}'

    return _steady(lambda: voices(page), accept, failure, timeout, interval=0.2)


MIX_RANGE_DB = 25.0  # a voice in a mix: within this of its loudest voice; one not in it: this far under it


def mix_levels(page: Page, tones_hz: list[float], tol: float = 15) -> list[float] | None:
    """The level (dB) at each of `tones_hz` in the one remote stream the page plays (a bridge's mix), or None while
    it plays none or several."""
    streams = [p for p in _streams(page, tones_hz, tol) if float(p['db']) > LEVEL_THRESHOLD_DB]
    return [float(db) for db in streams[0]['at']] if len(streams) == 1 else None


def wait_for_mix(page: Page, heard_hz: list[float], absent_hz: list[float], timeout: float = 20) -> list[float]:
    """Assert the page plays one stream mixing every tone of `heard_hz` (each within MIX_RANGE_DB of the loudest)
    and none of `absent_hz` (its own voice, someone who left: MIX_RANGE_DB under the quietest heard), in two readings
    in a row; the levels of `heard_hz + absent_hz`."""
    tones = [*heard_hz, *absent_hz]

    def mixed(levels: list[float]) -> bool:
        heard, absent = levels[: len(heard_hz)], levels[len(heard_hz) :]
        loudest = max(heard)
        quietest = min(heard)
        return (
            quietest > LEVEL_THRESHOLD_DB
            and quietest > loudest - MIX_RANGE_DB
            and all(db < quietest - MIX_RANGE_DB for db in absent)
        )

    def accept(levels: list[float] | None) -> list[float] | None:
        return levels if levels is not None and mixed(levels) else None

    def failure(last: list[float] | None) -> str:
        if last is None:
            return f'did not hear one mixed stream of {heard_hz}'
        shown = ', '.join(f'{hz:g} Hz {db:.0f} dB' for hz, db in zip(tones, last, strict=True))
        return f'did not hear a mix of {heard_hz} without {absent_hz}; last reading: {shown}'

    return _steady(lambda: mix_levels(page, tones), accept, failure, timeout, interval=0.2)
