"""Relay-only calls (ICE_TRANSPORT_POLICY=relay through coturn on loopback, time-limited credentials) next to
direct ones: call set-up (Call click → the callee's peer connection `connected`, which happens while it rings)
and voice-up (Accept → both sides hear the other's tone), p50/p95, the two rigs (bench/ring_voice.py's call rig)
taking turns call by call.

Floor (FLOORS.md): TURN relay-only connect with coturn on loopback ≈ 166 ms; two Chromium peers 40 to 55 ms.
Run it with `scripts/bench.sh turn_relay [calls]` (inside the private loopback-only network namespace).
"""

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.ring_voice import VoiceConnectRig, report
from voiceconnect.testing.servers import CoturnServer


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
        rigs = {
            'direct': VoiceConnectRig(playwright, tmp),
            'relay': VoiceConnectRig(playwright, tmp, settings=relay_settings),
        }
        try:
            for _ in range(runs):
                for name, rig in rigs.items():
                    measured = rig.call(until_connected=True)
                    assert measured.connected is not None
                    results[name].append((measured.connected, measured.voice))
        finally:
            for rig in rigs.values():
                rig.close()
            coturn.stop()
    print(f'call set-up and voice-up over {runs} calls each, real Chromium, loopback only (coturn for relay)')
    for name, pairs in results.items():
        print(report(f'{name}: Call → connected', [connected for connected, _ in pairs]))
        print(report(f'{name}: Accept → both tones', [voice for _, voice in pairs]))


if __name__ == '__main__':
    main()
