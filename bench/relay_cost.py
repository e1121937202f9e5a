"""What relaying one signaling message costs the server, in CPU µs per message:

- floor: bare python-socketio (bench/bare_relay_app.py), one client's message emitted to another client;
- VoiceConnect's core, one process: a party's candidate checked (sender in the call, on a leg it may use) and
  handed to the peer's tab through the in-memory hub;
- VoiceConnect's core, two processes over Redis: the same check as a Redis transaction, the message published on
  the peer's user channel and delivered by the other process (both processes' CPU, and redis-server's).

The core figures leave out the socket itself (NiceGUI's event in, its message out), which costs what the floor
costs; so VoiceConnect's relay is about floor + core.

    scripts/bench.sh relay_cost [messages]      (default 5000)
"""

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import socketio
from redis.asyncio import Redis

from bench.presence_load import cpu_seconds
from voiceconnect.clock import LoopClock
from voiceconnect.cluster.switchboard import shared_switchboard
from voiceconnect.connections.device import Device
from voiceconnect.connections.memory_hub import InMemoryHub
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.ratelimit import Limits
from voiceconnect.settings import Timeouts
from voiceconnect.testing.servers import AppServer, RedisServer

ROOT = Path(__file__).resolve().parents[1]
LIMITS = Limits(signals_per_second=10**6, signal_burst=10**6, calls_per_minute=1000)
TIMEOUTS = Timeouts(ring_timeout_s=600, reconnect_grace_s=600, media_timeout_s=600)
CANDIDATE = 'candidate:1 1 udp 2122260223 127.0.0.2 50000 typ host'
ROUNDS = 3


class Tab:
    """A tab that counts what it is relayed."""

    def __init__(self) -> None:
        self.relayed = 0
        self.done: asyncio.Event = asyncio.Event()
        self.expect = 0

    def deliver(self, event: object) -> None:
        self.last = event

    def relay(self, message: dict[str, object]) -> None:
        self.relayed += 1
        if self.relayed >= self.expect:
            self.done.set()


class Recorder:
    def call_created(self, call: object) -> None: ...
    def call_answered(self, call: object) -> None: ...
    def call_finished(self, call: object) -> None: ...

    async def past_call(self, call_id: str, user: str) -> None:
        return None


async def tab(board: Switchboard, user: str) -> tuple[Device, Tab]:
    service = await board.service_for(f'{user}-browser', user, f'token-{user}')
    fake = Tab()
    return await board.attach(service, f'{user}-tab', fake), fake


async def in_call(alice: Device, bob: Device, bob_tab: Tab) -> tuple[str, str]:
    """An answered call; returns its id and alice's leg."""
    call = await alice.call_user('bob')
    await asyncio.sleep(0.2)  # the ring reaches bob's process
    await bob.accept(call.id)
    view = alice.call
    assert view is not None
    live = alice._board.calls.get(call.id)
    assert live is not None
    return call.id, next(iter(live.legs))


async def relay_many(alice: Device, bob_tab: Tab, call_id: str, leg: str, count: int) -> None:
    message = {
        'kind': 'candidate',
        'call_id': call_id,
        'leg': leg,
        'candidate': CANDIDATE,
        'sdp_mid': '0',
        'sdp_mline_index': 0,
    }
    bob_tab.relayed, bob_tab.expect = 0, count
    bob_tab.done.clear()
    for _ in range(count):
        await alice.signal(message)
    await asyncio.wait_for(bob_tab.done.wait(), 120)


async def core_in_memory(count: int) -> list[float]:
    board = Switchboard(LoopClock(), InMemoryHub(), Recorder(), TIMEOUTS, LIMITS)
    (alice, _), (bob, bob_tab) = await tab(board, 'alice'), await tab(board, 'bob')
    call_id, leg = await in_call(alice, bob, bob_tab)
    per_message = []
    for _ in range(ROUNDS):
        start = time.process_time()
        await relay_many(alice, bob_tab, call_id, leg, count)
        per_message.append((time.process_time() - start) / count * 1e6)
    return per_message


async def core_over_redis(count: int, redis: RedisServer) -> tuple[list[float], list[float]]:
    boards = []
    for name in ('one', 'two'):
        board = shared_switchboard(Redis.from_url(redis.url), name, LoopClock(), Recorder(), TIMEOUTS, LIMITS)
        await board.hub.start()
        boards.append(board)
    (alice, _), (bob, bob_tab) = await tab(boards[0], 'alice'), await tab(boards[1], 'bob')
    call_id, leg = await in_call(alice, bob, bob_tab)
    assert redis.process is not None
    ours, theirs = [], []
    for _ in range(ROUNDS):
        start, redis_start = time.process_time(), cpu_seconds(redis.process.pid)
        await relay_many(alice, bob_tab, call_id, leg, count)
        ours.append((time.process_time() - start) / count * 1e6)
        theirs.append((cpu_seconds(redis.process.pid) - redis_start) / count * 1e6)
    for board in boards:
        await board.hub.stop()
    return ours, theirs


async def bare_socketio(count: int, tmp: Path) -> list[float]:
    server = AppServer(ROOT, tmp / 'bare', tmp / 'bare.log', script='bench/bare_relay_app.py')
    server.start()
    try:
        assert server.process is not None
        sender, receiver = socketio.AsyncClient(), socketio.AsyncClient()
        got = {'n': 0}
        done = asyncio.Event()

        @receiver.on('relayed')
        async def relayed(message: object) -> None:
            got['n'] += 1
            if got['n'] >= count:
                done.set()

        for client, name in ((sender, 'alice'), (receiver, 'bob')):
            await client.connect(server.url, transports=['websocket'])
            await client.emit('hello', name)
        await asyncio.sleep(0.5)
        message = {'to': 'bob', 'kind': 'candidate', 'candidate': CANDIDATE, 'sdp_mid': '0', 'sdp_mline_index': 0}
        per_message = []
        for _ in range(ROUNDS):
            got['n'] = 0
            done.clear()
            start = cpu_seconds(server.process.pid)
            for _ in range(count):
                await sender.emit('relay', message)
            await asyncio.wait_for(done.wait(), 120)
            per_message.append((cpu_seconds(server.process.pid) - start) / count * 1e6)
        await sender.disconnect()
        await receiver.disconnect()
        return per_message
    finally:
        server.stop()


def line(name: str, values: list[float]) -> str:
    rounds = ', '.join(f'{v:.0f}' for v in values)
    return f'{name:<58} median {statistics.median(values):6.0f} µs/message  (rounds: {rounds})'


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with RedisServer(tmp / 'redis') as redis:
            floor = await bare_socketio(count, tmp)
            memory = await core_in_memory(count)
            ours, theirs = await core_over_redis(count, redis)
    print(f'CPU per relayed signaling message, {count} messages × {ROUNDS} rounds')
    print(line('floor: bare python-socketio relay (server process)', floor))
    print(line('core, one process, in-memory hub', memory))
    print(line('core, two processes over Redis (both processes)', ours))
    print(line('       … and redis-server', theirs))


if __name__ == '__main__':
    asyncio.run(main())
