"""Janus AudioBridge CPU per participant (run with `scripts/bench.sh janus [N ...] [--windows K] [--window-s S]`):

A real janus (the tests' `JanusServer`: Debian's janus, our configuration, ICE on a veth pair inside the private
network namespace) and one room of N aiortc participants (`BridgePeer`, default N = 8, 16, 32), every one of them
playing its own tone the whole time, so Janus decodes N streams and encodes N mixes (each without its own voice).
After a warm-up, janus's CPU (user + system, all its threads, from /proc) is read over K windows of S seconds; each
window gives janus's share of one core divided by N. Printed: p50 and p95 over the windows, beside the floor (an
idle janus, same run) and the load generator's own CPU per participant (this Python process: aiortc doing the same
Opus and SRTP work per peer, the cost of a participant in Python for comparison). Target (issue 20): ≤ 5 % of a
core per participant. The generator shares the 2 cores with janus: if it is saturated, peers send late and janus
looks cheaper than it is, so its load is printed too.
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bench.voice_client import cpu_seconds, percentile
from voiceconnect.bridge.janus import JanusBridge
from voiceconnect.client.media import FRAME_SAMPLES, RATE, TIME_BASE
from voiceconnect.testing.janus import BridgePeer, JanusServer

TARGET = 0.05  # of one core per participant


def tone_of(i: int) -> float:
    return 300.0 + 23.0 * i  # distinct, whole-Hz tones


class EncodedTone(MediaStreamTrack):
    """A tone as Opus packets encoded once, sent in real time: a participant whose own encoding costs the load
    generator nothing (aiortc sends a track's `av.Packet`s as they are), so more of them fit beside janus."""

    kind = 'audio'

    def __init__(self, pcm: bytes) -> None:
        super().__init__()
        self._packets = encode_opus(pcm)
        self._started: float | None = None
        self._sent = 0

    async def recv(self) -> av.Packet:
        if self.readyState != 'live':
            raise MediaStreamError
        if self._started is None:
            self._started = time.monotonic()
        wait = self._started + self._sent * FRAME_SAMPLES / RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(self._packets[self._sent % len(self._packets)])
        packet.pts, packet.time_base = self._sent * FRAME_SAMPLES, TIME_BASE
        self._sent += 1
        return packet


def encode_opus(pcm: bytes) -> list[bytes]:
    """48 kHz mono 16-bit PCM as 20 ms Opus packets."""
    encoder = av.CodecContext.create('libopus', 'w')
    encoder.sample_rate, encoder.layout, encoder.format = RATE, 'mono', 's16'
    packets: list[bytes] = []
    step = FRAME_SAMPLES * 2
    for pts, offset in enumerate(range(0, len(pcm) - step + 1, step)):
        frame = av.AudioFrame(format='s16', layout='mono', samples=FRAME_SAMPLES)
        frame.planes[0].update(pcm[offset : offset + step])
        frame.sample_rate, frame.pts, frame.time_base = RATE, pts * FRAME_SAMPLES, TIME_BASE
        packets += [bytes(packet) for packet in encoder.encode(frame)]
    return packets


class EncodedPeer(BridgePeer):
    """A `BridgePeer` that sends its tone pre-encoded (it always speaks)."""

    def __init__(self, tone_hz: float, directory: Path) -> None:
        super().__init__(tone_hz, directory)
        self.pc.getSenders()[0].replaceTrack(EncodedTone(self._tone))


async def windows(pid: int, count: int, seconds: float) -> list[float]:
    """Janus's share of one core in each window."""
    shares = []
    for _ in range(count):
        before, started = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(seconds)
        shares.append((cpu_seconds(pid) - before) / (time.monotonic() - started))
    return shares


async def packets_sent(peers: list[EncodedPeer]) -> int:
    """RTP packets the peers sent so far: 50 a second each when the generator keeps up."""
    total = 0
    for peer in peers:
        report = await peer.pc.getStats()
        total += sum(stat.packetsSent for stat in report.values() if stat.type == 'outbound-rtp')
    return total


def line(name: str, shares: list[float]) -> str:
    p50, p95 = statistics.median(shares) * 100, percentile(shares, 95) * 100
    return f'{name:<52} p50 {p50:6.2f} %  p95 {p95:6.2f} %'


async def room_of(bridge: JanusBridge, janus: JanusServer, n: int, directory: Path, count: int, seconds: float) -> None:
    tokens = [f't-{i}' for i in range(n)]
    room = await bridge.create_room(tokens=tokens)
    peers = [EncodedPeer(tone_of(i), directory) for i in range(n)]
    try:
        joins = [peer.join(bridge, room, token) for peer, token in zip(peers, tokens, strict=True)]
        for batch in range(0, n, 8):  # in batches: each gathers candidates and negotiates DTLS
            await asyncio.gather(*joins[batch : batch + 8])
        await asyncio.sleep(2.0)  # warm-up: every mix running
        sent_before = await packets_sent(peers)
        mine_before, started = cpu_seconds(os.getpid()), time.monotonic()
        shares = await windows(janus.pid, count, seconds)
        elapsed = time.monotonic() - started
        mine = (cpu_seconds(os.getpid()) - mine_before) / elapsed
        rate = (await packets_sent(peers) - sent_before) / elapsed / n
        per_participant = [share / n for share in shares]
        verdict = 'within' if percentile(per_participant, 95) <= TARGET else 'OVER'
        print(line(f'janus, {n} participants, per participant', per_participant), f'({verdict} the 5 % target)')
        print(line(f'janus, {n} participants, whole process', shares))
        print(
            f'{"load generator (aiortc, this process) per participant":<52} {mine / n * 100:6.2f} %  '
            f'(all {mine * 100:.0f} % of a core; each peer sent {rate:.1f} of 50 packets/s)'
        )
    finally:
        await asyncio.gather(*(peer.close() for peer in peers))
        await bridge.destroy_room(room)


async def main(sizes: list[int], count: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as scratch, JanusServer(Path(scratch) / 'janus') as janus:
        async with JanusBridge(janus.url, api_secret=janus.api_secret, admin_key=janus.admin_key) as bridge:
            print(line('floor: idle janus, whole process', await windows(janus.pid, count, seconds)))
            for n in sizes:
                await room_of(bridge, janus, n, Path(scratch), count, seconds)


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('sizes', nargs='*', type=int, default=[8, 16, 32], help='participants in the room')
    parser.add_argument('--windows', type=int, default=5)
    parser.add_argument('--window-s', type=float, default=2.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.sizes, arguments.windows, arguments.window_s))
