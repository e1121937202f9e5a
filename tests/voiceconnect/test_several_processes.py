"""Several processes over one real Redis: each `Process` here is what one app process holds (its own Redis
connection, hub, call store and tabs), so the tests see what crosses between processes: presence, rings, answers,
glare, busy, deadlines that outlive the process that set them, and a process that dies mid-call."""

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from voiceconnect.calls.machine import CallError, CallState, EndReason
from voiceconnect.clock import LoopClock
from voiceconnect.cluster.pool import connect
from voiceconnect.cluster.redis_call_store import RedisCallStore
from voiceconnect.cluster.redis_hub import RedisHub
from voiceconnect.cluster.switchboard import shared_switchboard
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import ServiceInterrupted
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.ratelimit import Limits
from voiceconnect.settings import Timeouts
from voiceconnect.testing.servers import RedisServer

from .helpers import FakeRecorder, FakeTab, log_lines, media_up, tab_of

RING_S = 1.5
GRACE_S = 5.0  # longer than a dead process's heartbeat takes to lapse (3 s)
TIMEOUTS = Timeouts(ring_timeout_s=RING_S, reconnect_grace_s=GRACE_S, media_timeout_s=5)
LIMITS = Limits(calls_per_minute=1000)  # a misspelt name is refused now (it ran with the default)


class Process:
    """One app process of several, as the core sees it."""

    def __init__(self, name: str, url: str, recorder: FakeRecorder, pool_size: int | None = None) -> None:
        self.name = name
        self.redis = connect(url, timeout_s=2, pool_size=pool_size) if pool_size else Redis.from_url(url)
        self.board: Switchboard = shared_switchboard(self.redis, name, LoopClock(), recorder, TIMEOUTS, LIMITS)
        self._ids = itertools.count()
        self.dead = False

    @property
    def hub(self) -> RedisHub:
        assert isinstance(self.board.hub, RedisHub)
        return self.board.hub

    @property
    def store(self) -> RedisCallStore:
        assert isinstance(self.board.calls.store, RedisCallStore)
        return self.board.calls.store

    async def start(self) -> 'Process':
        await self.hub.start()
        self.store.start()
        return self

    async def tab(self, user: str, browser: str | None = None, tab_key: str | None = None) -> Device:
        """A tab of `user`'s browser served by this process."""
        browser = browser or f'{user}-browser'
        service = await self.board.service_for(browser, user, f'token-{user}-{browser}')
        tab = FakeTab()
        device = await self.board.attach(service, f'{self.name}-{user}-{next(self._ids)}', tab, tab_key)
        tab.listed = device.online_users()  # what a page built now would list
        return device

    async def stop(self) -> None:
        await self.store.stop()
        await self.hub.stop()
        await self.redis.aclose()

    async def die(self) -> None:
        """As kill -9: nothing is cleaned up, the heartbeat and leases just stop being renewed."""
        self.dead = True
        await self.store.stop()
        self.hub._stopping = True  # redis-py's pub/sub read may swallow a cancellation: the loops check this too
        for task in self.hub._tasks:
            task.cancel()
        await asyncio.wait(self.hub._tasks, timeout=3)
        await self.redis.aclose()


Start = Callable[[str], Awaitable[Process]]


@pytest.fixture
def recorder() -> FakeRecorder:
    return FakeRecorder()


@pytest.fixture
async def start(redis_url: str, recorder: FakeRecorder) -> AsyncIterator[Start]:
    running: list[Process] = []

    async def start_process(name: str) -> Process:
        process = await Process(name, redis_url, recorder).start()
        running.append(process)
        return process

    yield start_process
    for process in running:
        if not process.dead:
            await process.stop()


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f'not so within {timeout} s: {what}')
        await asyncio.sleep(0.01)


def state_seen(device: Device, call_id: str) -> CallState | None:
    views = tab_of(device).views_of(call_id)
    return views[-1].state if views else None


async def sees(device: Device, call_id: str, state: CallState, timeout: float = 5.0) -> None:
    """The device's tab is told the call is in `state` (news from another process arrives a moment later)."""
    await eventually(lambda: state_seen(device, call_id) == state, f'{device.id} sees {call_id} {state}', timeout)


def finished(recorder: FakeRecorder, call_id: str) -> list[EndReason | None]:
    return [call.end_reason for call in recorder.finished if call.id == call_id]


async def test_people_on_two_processes_see_each_other_ring_talk_and_hang_up(
    start: Start, recorder: FakeRecorder
) -> None:
    one, two = await start('one'), await start('two')
    alice = await one.tab('alice')
    bob = await two.tab('bob')
    await eventually(lambda: tab_of(alice).online_names == ['bob'], "alice's dashboard lists bob")
    assert tab_of(bob).online_names == ['alice']

    call = await alice.call_user('bob')
    await sees(bob, call.id, CallState.RINGING)
    await bob.accept(call.id)
    await sees(alice, call.id, CallState.CONNECTING)
    await media_up(alice, call.id)
    await media_up(bob, call.id)
    await sees(alice, call.id, CallState.ACTIVE)
    await sees(bob, call.id, CallState.ACTIVE)
    await bob.hang_up(call.id)
    await sees(alice, call.id, CallState.ENDED)
    assert finished(recorder, call.id) == [EndReason.COMPLETED]


async def test_two_tabs_on_two_processes_accepting_together_answer_once(start: Start, recorder: FakeRecorder) -> None:
    one, two = await start('one'), await start('two')
    alice = await one.tab('alice')
    bob_here, bob_there = await one.tab('bob'), await two.tab('bob', browser='bob-phone')
    for _ in range(5):
        call = await alice.call_user('bob')
        await sees(bob_there, call.id, CallState.RINGING)
        results = await asyncio.gather(bob_here.accept(call.id), bob_there.accept(call.id), return_exceptions=True)
        errors = [r for r in results if isinstance(r, CallError)]
        assert len(errors) == 1, results
        assert str(errors[0]) == 'This call was already answered.'
        assert len([c for c in recorder.answered if c.id == call.id]) == 1
        await alice.hang_up(call.id)
        assert finished(recorder, call.id) == [EndReason.COMPLETED]


async def test_glare_across_processes_leaves_one_call_both_are_in(start: Start, recorder: FakeRecorder) -> None:
    one, two = await start('one'), await start('two')
    alice, bob = await one.tab('alice'), await two.tab('bob')
    for _ in range(5):
        first, second = await asyncio.gather(alice.call_user('bob'), bob.call_user('alice'))
        assert first.id == second.id  # the second click answered the first call
        assert {first.state, second.state} == {CallState.RINGING, CallState.CONNECTING}
        await sees(alice, first.id, CallState.CONNECTING)
        await sees(bob, first.id, CallState.CONNECTING)
        assert len(recorder.created) == len(recorder.finished) + 1  # no second call was placed
        await alice.hang_up(first.id)


async def test_busy_is_decided_on_what_is_true_at_the_write(start: Start, recorder: FakeRecorder) -> None:
    one, two = await start('one'), await start('two')
    bob = await one.tab('bob')
    carol, dave = await one.tab('carol'), await two.tab('dave')
    for _ in range(5):
        calls = await asyncio.gather(carol.call_user('bob'), dave.call_user('bob'))
        ringing = [c for c in calls if c.state == CallState.RINGING]
        busy = [c for c in calls if c.end_reason == EndReason.BUSY]
        assert len(ringing) == 1 and len(busy) == 1, calls
        await sees(bob, ringing[0].id, CallState.RINGING)
        assert CallState.RINGING not in [view.state for view in tab_of(bob).views_of(busy[0].id)]  # never rang
        await bob.decline(ringing[0].id)


async def test_accept_racing_the_ring_timeout_either_answers_or_misses(start: Start, recorder: FakeRecorder) -> None:
    one, two = await start('one'), await start('two')
    alice, bob = await one.tab('alice'), await two.tab('bob')
    call = await alice.call_user('bob')
    await asyncio.sleep(RING_S - 0.01)
    try:
        await bob.accept(call.id)
        answered = True
    except CallError:
        answered = False
    await asyncio.sleep(0.5)
    if answered:
        assert finished(recorder, call.id) == [] and state_seen(alice, call.id) == CallState.CONNECTING
        await alice.hang_up(call.id)
    else:
        assert finished(recorder, call.id) == [EndReason.MISSED]
        assert not [c for c in recorder.answered if c.id == call.id]


async def test_a_ring_timeout_fires_when_the_process_that_placed_the_call_is_gone(
    start: Start, recorder: FakeRecorder
) -> None:
    one, two = await start('one'), await start('two')
    alice, bob = await one.tab('alice'), await two.tab('bob')
    call = await alice.call_user('bob')
    await sees(bob, call.id, CallState.RINGING)
    await one.die()
    await sees(bob, call.id, CallState.ENDED, RING_S + 2)  # the ring timed out
    assert tab_of(bob).last_view(call.id).end_reason == EndReason.MISSED
    assert finished(recorder, call.id) == [EndReason.MISSED]


async def test_a_dead_process_tab_is_taken_over_where_its_browser_reloads(
    start: Start, recorder: FakeRecorder, logs: pytest.LogCaptureFixture
) -> None:
    one, two = await start('one'), await start('two')
    alice = await one.tab('alice')
    bob = await two.tab('bob', tab_key='bob-tab')
    call = await alice.call_user('bob')
    await sees(bob, call.id, CallState.RINGING)
    await bob.accept(call.id)
    await media_up(alice, call.id)
    await media_up(bob, call.id)
    await sees(alice, call.id, CallState.ACTIVE)
    await two.die()
    await eventually(lambda: tab_of(alice).last_view(call.id).peer_reconnecting, 'alice sees bob reconnecting', 5)
    back = await one.tab('bob', tab_key='bob-tab')  # HAProxy sent bob's browser here; the page reloaded
    await sees(back, call.id, CallState.ACTIVE)
    await media_up(back, call.id)  # both browsers negotiated afresh
    await media_up(alice, call.id)
    assert not tab_of(alice).last_view(call.id).peer_reconnecting
    await asyncio.sleep(GRACE_S + 2)  # the dead process's lease runs out: bob stays online, in the call
    assert one.board.calls.get(call.id) is not None
    assert finished(recorder, call.id) == []
    assert not [line for line in log_lines(logs) if 'User disconnected' in line]
    await alice.hang_up(call.id)
    assert finished(recorder, call.id) == [EndReason.COMPLETED]


async def test_a_dead_process_users_go_offline_after_the_grace_and_their_calls_end(
    start: Start, recorder: FakeRecorder
) -> None:
    one, two = await start('one'), await start('two')
    alice, bob = await one.tab('alice'), await two.tab('bob')
    call = await alice.call_user('bob')
    await sees(bob, call.id, CallState.RINGING)
    await bob.accept(call.id)
    await media_up(alice, call.id)
    await media_up(bob, call.id)
    await two.die()
    await eventually(lambda: 'bob' not in tab_of(alice).online_names, 'bob went offline', GRACE_S + 5)
    await sees(alice, call.id, CallState.ENDED, 3)
    assert finished(recorder, call.id) == [EndReason.CONNECTION_LOST]


async def test_a_message_that_does_not_parse_is_dropped_and_the_next_one_arrives(
    start: Start, redis_url: str, logs: pytest.LogCaptureFixture
) -> None:
    one, two = await start('one'), await start('two')
    alice, bob = await one.tab('alice'), await two.tab('bob')
    sender = Redis.from_url(redis_url)
    await sender.publish('vc:user:bob', b'{not json')
    await sender.publish('vc:user:bob', b'{"from": "x", "kind": "call", "call": 12}')
    await sender.aclose()
    call = await alice.call_user('bob')
    await sees(bob, call.id, CallState.RINGING)
    dropped = [line for line in log_lines(logs) if 'Dropped a hub message on vc:user:bob' in line]
    assert len(dropped) == 2


async def test_redis_lost_and_back_the_tabs_are_told_and_a_deadline_passed_meanwhile_ends_its_call(
    tmp_path: Path, recorder: FakeRecorder
) -> None:
    with RedisServer(tmp_path, persistent=True) as redis:
        one = await Process('one', redis.url, recorder).start()
        alice, bob = await one.tab('alice'), await one.tab('bob')
        call = await alice.call_user('bob')
        redis.stop()
        await eventually(lambda: not one.hub.healthy, 'the hub noticed', 5)
        assert ServiceInterrupted(True) in tab_of(bob).events
        await asyncio.sleep(RING_S)  # the ring timeout passes while Redis is away
        assert finished(recorder, call.id) == []
        redis.start()
        await eventually(lambda: one.hub.healthy, 'the hub is back', 5)
        assert ServiceInterrupted(False) in tab_of(bob).events
        await eventually(lambda: finished(recorder, call.id) == [EndReason.MISSED], 'the call ended as missed', 3)
        assert state_seen(alice, call.id) == CallState.ENDED
        assert tab_of(bob).online_names == ['alice']  # state re-read, nothing lost
        await one.stop()


async def test_a_tabs_messages_take_effect_in_the_order_they_came(start: Start) -> None:
    one, two = await start('one'), await start('two')
    alice, bob = await one.tab('alice'), await two.tab('bob')
    for _ in range(3):
        call = await alice.call_user('bob')
        await sees(bob, call.id, CallState.RINGING)
        # the browser reports its media up right after its Accept: both wait for Redis, neither may overtake
        await asyncio.gather(bob.accept(call.id), media_up(bob, call.id))
        await media_up(alice, call.id)
        await sees(alice, call.id, CallState.ACTIVE)
        await alice.hang_up(call.id)


async def test_calls_placed_all_at_once_on_the_smallest_pool_all_go_through(
    redis_url: str, recorder: FakeRecorder
) -> None:
    """A transition holds a connection for its WATCH and asks the hub for more meanwhile, and the subscription
    holds one: on a bounded pool, as many transitions as connections would wait for one another until their
    time-out."""
    one = await Process('one', redis_url, recorder, pool_size=4).start()  # REDIS_POOL_SIZE's least
    try:
        callers = [await one.tab(f'caller{i}') for i in range(8)]
        callees = [await one.tab(f'callee{i}') for i in range(8)]
        for _ in range(3):
            calls = await asyncio.wait_for(
                asyncio.gather(
                    *(caller.call_user(callee.user) for caller, callee in zip(callers, callees, strict=True))
                ),
                10,
            )
            assert [call.state for call in calls] == [CallState.RINGING] * 8
            await asyncio.gather(*(caller.hang_up(call.id) for caller, call in zip(callers, calls, strict=True)))
        assert one.hub.healthy
    finally:
        await one.stop()
