"""The Python voice client and the Sound test, measured on loopback (run with `scripts/bench.sh voice_client [calls]`):

- set-up: `call()` → answered, with a VoiceClient peer that answers at once (p50/p95 over N calls);
- voice-up: `call()` → the caller hears the peer's first audio frame;
- the app's CPU per active Sound test call (aiortc in the app: Opus in and out, SRTP, ICE), with 1, 4 and 8 sessions
  at once, read from /proc for the app process over each session's whole life (ring, record, play back), and what
  that makes one core hold.

Nothing else runs in the app meanwhile; the clients run in this process, not the app's.
"""

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from voiceconnect.client import Call, VoiceClient
from voiceconnect.testing.audio import write_tone_wav
from voiceconnect.testing.servers import PROJECT_DIR, AppServer

TICKS = os.sysconf('SC_CLK_TCK')


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return f'{name:<46} n={len(ms):<3} p50={statistics.median(ms):7.1f} ms  p95={percentile(ms, 95):7.1f} ms'


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads (argon2 and aiortc's codecs run in threads)."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def setup_and_voice_up(server: AppServer, calls: int) -> None:
    (caller, caller_pw), (callee, callee_pw) = server.add_user(), server.add_user()
    setups: list[float] = []
    voice_ups: list[float] = []
    async with VoiceClient(server.url, caller, caller_pw) as a, VoiceClient(server.url, callee, callee_pw) as b:

        async def answer_every_call() -> None:
            while True:
                await (await b.next_incoming()).accept()

        answering = asyncio.create_task(answer_every_call())
        for _ in range(calls):
            started = time.monotonic()
            call: Call = await a.call(callee)
            setups.append(time.monotonic() - started)
            await asyncio.wait_for(call.incoming.heard.wait(), 10)
            voice_ups.append(time.monotonic() - started)
            await call.hang_up()
            await asyncio.sleep(0.2)
        answering.cancel()
    print(summary('set-up: call() → answered', setups))
    print(summary('voice-up: call() → first audio from the peer', voice_ups))


async def sound_tests(server: AppServer, sessions: int, tone: Path) -> float:
    """The app's CPU seconds per second of one active Sound test call, with `sessions` at once."""
    accounts = [server.add_user() for _ in range(sessions)]
    assert server.process is not None
    pid = server.process.pid

    async def one(name: str, password: str) -> float:
        async with VoiceClient(server.url, name, password) as client:
            call = await client.call('Sound test')
            answered = time.monotonic()
            playing = asyncio.create_task(call.play(tone))
            await call.ended
            playing.cancel()
            return time.monotonic() - answered

    before = cpu_seconds(pid)
    lengths = await asyncio.gather(*(one(name, password) for name, password in accounts))
    used = cpu_seconds(pid) - before
    per_call = used / sum(lengths)
    print(
        f'Sound test, {sessions} at once: app CPU {used:5.2f} s over {sum(lengths):5.1f} call-seconds '
        f'= {per_call * 100:4.1f} % of a core per call → about {1 / per_call:4.0f} calls per core'
    )
    return per_call


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tone = write_tone_wav(root / 'tone.wav', 440, seconds=15)
        overrides = {'CALLS_PER_MINUTE': 100_000}  # the bench calls far more often than a person may
        with AppServer(PROJECT_DIR, root / 'data', root / 'server.log', overrides) as server:
            await setup_and_voice_up(server, calls)
            for sessions in (1, 4, 8):
                await sound_tests(server, sessions, tone)


if __name__ == '__main__':
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
