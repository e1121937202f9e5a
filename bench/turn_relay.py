"""Relay-only calls (ICE_TRANSPORT_POLICY=relay through coturn on loopback, time-limited credentials) next to
direct ones: call set-up (Call click → the callee's peer connection `connected`, which happens while it rings)
and voice-up (Accept → both sides
hear the other's tone), p50/p95, the two rigs taking turns call by call.

Floor (FLOORS.md): TURN relay-only connect with coturn on loopback ≈ 166 ms; two Chromium peers 40 to 55 ms.
Run it with `scripts/bench.sh turn_relay [calls]` (inside the private loopback-only network namespace).
"""

import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from bench.ring_voice import SETTLE_S, WATCH_CLICK, WATCH_TONE, VoiceConnectRig, report, settled, watch
from voiceconnect.testing.servers import CoturnServer

WATCH_CONNECTED = """(key) => { window[key] = new Promise((resolve) => {
  const timer = setInterval(() => {
    for (const [, call] of window.vc.calls) for (const [, leg] of call.legs)
      if (leg.pc.connectionState === 'connected') {
        clearInterval(timer);
        resolve(performance.timeOrigin + performance.now());
      }
  }, 2);
}); }"""


def measured_call(rig: VoiceConnectRig) -> tuple[float, float]:
    """One call: (Call click → the callee's peer connection connected, Accept → both tones) in ms. The callee's
    tab negotiates while it rings (its offer is the caller's "180 Ringing"), so the media path is up before Accept."""
    alice, bob = rig.alice, rig.bob
    expect(alice.page.get_by_role('button', name='Call bob')).to_be_visible()
    time.sleep(SETTLE_S)
    clicked = watch(alice.page, WATCH_CLICK, 'Call bob')
    connected = watch(bob.page, WATCH_CONNECTED)
    alice.page.get_by_role('button', name='Call bob').click()
    bob.page.get_by_role('dialog').wait_for()
    expect(alice.page.get_by_text('Calling bob…')).to_be_visible()
    setup = settled(bob.page, connected) - settled(alice.page, clicked)
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
    return setup, voice


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    results: dict[str, list[tuple[float, float]]] = {'direct': [], 'relay': []}
    with tempfile.TemporaryDirectory() as tmp_dir, sync_playwright() as playwright:
        tmp = Path(tmp_dir)
        coturn = CoturnServer(tmp / 'coturn').start()
        relay_settings: dict[str, object] = {
            'TURN_URLS': f'["{coturn.url}"]',
            'TURN_SECRET': coturn.secret,
            'ICE_TRANSPORT_POLICY': 'relay',
        }
        rigs = {'direct': VoiceConnectRig(playwright, tmp), 'relay': VoiceConnectRig(playwright, tmp, relay_settings)}
        try:
            for _ in range(runs):
                for name, rig in rigs.items():
                    results[name].append(measured_call(rig))
        finally:
            for rig in rigs.values():
                rig.close()
            coturn.stop()
    print(f'call set-up and voice-up over {runs} calls each, real Chromium, loopback only (coturn for relay)')
    for name, measured in results.items():
        print(report(f'{name}: Call → connected', [m[0] for m in measured]))
        print(report(f'{name}: Accept → both tones', [m[1] for m in measured]))


if __name__ == '__main__':
    main()
