"""Rate limits on a fake clock: the limiters themselves, then call attempts and signaling through a user's tab."""

import logging

import pytest

from voiceconnect.calls.machine import CallError, CallState
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device, SignalsDropped
from voiceconnect.ratelimit import FailureLockout, Limits, RateLimiter, address_key, wait_text

from .helpers import (
    FakeRecorder,
    World,
    answer_signal,
    candidate,
    leg_of,
    log_lines,
    make_board,
    offer,
    ring,
    seen,
    tab_of,
    talk,
)

# RateLimiter: `limit` per `per_s`, in a burst


async def test_the_limit_is_allowed_at_once_and_the_next_is_refused_until_its_share_of_the_window_passes(
    clock: FakeClock,
) -> None:
    calls: RateLimiter[str] = RateLimiter(10, 60.0, clock)
    assert [calls.hit('alice') for _ in range(10)] == [None] * 10
    refused = calls.hit('alice')
    assert refused is not None
    assert refused.retry_after_s == pytest.approx(6.0)
    assert refused.wait == '6 s'
    await clock.advance(5.9)
    assert calls.hit('alice') is not None
    await clock.advance(0.1)
    assert calls.hit('alice') is None
    assert calls.hit('alice') is not None


async def test_refused_events_do_not_count_so_waiting_is_enough(clock: FakeClock) -> None:
    calls: RateLimiter[str] = RateLimiter(10, 60.0, clock)
    for _ in range(10):
        calls.hit('alice')
    for _ in range(100):  # hammering while refused does not push the wait further out
        assert calls.hit('alice') is not None
    await clock.advance(6)
    assert calls.hit('alice') is None


async def test_after_a_whole_window_the_whole_burst_is_allowed_again(clock: FakeClock) -> None:
    calls: RateLimiter[str] = RateLimiter(10, 60.0, clock)
    for _ in range(10):
        calls.hit('alice')
    await clock.advance(60)
    assert [calls.hit('alice') for _ in range(10)] == [None] * 10
    assert calls.hit('alice') is not None


async def test_keys_are_limited_independently(clock: FakeClock) -> None:
    calls: RateLimiter[str] = RateLimiter(2, 60.0, clock)
    calls.hit('alice')
    calls.hit('alice')
    assert calls.hit('alice') is not None
    assert calls.hit('bob') is None


async def test_a_burst_above_the_rate_then_the_rate(clock: FakeClock) -> None:
    signals: RateLimiter[str] = RateLimiter(50, 1.0, clock, burst=200)
    assert sum(signals.hit('tab') is None for _ in range(1000)) == 200
    await clock.advance(1)
    assert sum(signals.hit('tab') is None for _ in range(1000)) == 50


async def test_a_flood_is_reported_on_its_first_refusal_then_once_a_minute_with_the_count(clock: FakeClock) -> None:
    signals: RateLimiter[str] = RateLimiter(50, 1.0, clock, burst=50)
    results = [signals.hit('tab') for _ in range(150)]
    refusals = [r for r in results if r is not None]
    assert [r.report for r in refusals] == [True] + [False] * 99
    assert refusals[0].refused == 1
    for _ in range(59):  # a minute of flooding: 50 allowed and 100 refused each second
        await clock.advance(1)
        assert not any(r.report for _ in range(150) if (r := signals.hit('tab')) is not None)
    await clock.advance(1)
    report = next(r for _ in range(150) if (r := signals.hit('tab')) is not None)
    assert report.report
    assert report.refused == 99 + 59 * 100 + 1


async def test_memory_stays_bounded_when_someone_sprays_keys(clock: FakeClock) -> None:
    signups: RateLimiter[str] = RateLimiter(10, 3600.0, clock, max_keys=1000)
    for number in range(50_000):
        signups.hit(f'203.0.113.{number}')
        assert len(signups) <= 1000


async def test_lapsed_keys_are_forgotten_as_new_ones_come(clock: FakeClock) -> None:
    calls: RateLimiter[str] = RateLimiter(10, 60.0, clock)
    for number in range(500):
        calls.hit(f'user{number}')
    await clock.advance(61)  # every key's bucket is full again
    for number in range(500):
        calls.hit(f'later{number}')
        await clock.advance(0.001)
    assert len(calls) < 520


@pytest.mark.parametrize(('limit', 'per_s', 'burst'), [(0, 60.0, None), (5, 0.0, None), (5, 60.0, 0)])
async def test_a_limiter_that_could_never_allow_anything_is_a_programming_error(
    clock: FakeClock, limit: int, per_s: float, burst: int | None
) -> None:
    with pytest.raises(ValueError, match='rate limit'):
        RateLimiter(limit, per_s, clock, burst=burst)


@pytest.mark.parametrize(
    ('seconds', 'text'), [(0.01, '1 s'), (1.0, '1 s'), (6.0, '6 s'), (59.2, '60 s'), (119.5, '2 min'), (360, '6 min')]
)
async def test_waits_are_said_rounded_up(seconds: float, text: str) -> None:
    assert wait_text(seconds) == text


@pytest.mark.parametrize(
    ('address', 'key'),
    [
        ('203.0.113.9', '203.0.113.9'),
        ('2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'),  # one host can pick any address of its /64
        ('2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'),
        ('2001:db8:1:3::1', '2001:db8:1:3::/64'),
        ('::ffff:203.0.113.9', '203.0.113.9'),  # IPv4 seen through an IPv6 socket
        ('testclient', 'testclient'),
    ],
)
async def test_addresses_are_limited_by_ipv4_address_or_ipv6_64(address: str, key: str) -> None:
    assert address_key(address) == key


# FailureLockout: sign-in failures


def fail(lockout: FailureLockout[str], key: str, times: int = 1) -> list[float | None]:
    """`times` failed attempts; for each, the lock it started (seconds) or None."""
    locks: list[float | None] = []
    for _ in range(times):
        assert lockout.begin(key) is None, 'the attempt was refused before it was checked'
        lock = lockout.failed(key)
        locks.append(lock.retry_after_s if lock else None)
    return locks


@pytest.fixture
def lockout(clock: FakeClock) -> FailureLockout[str]:
    return FailureLockout(5, 60.0, clock, max_lock_s=900.0)


async def test_the_fifth_failure_in_a_minute_locks_for_a_minute(lockout: FailureLockout[str], clock: FakeClock) -> None:
    assert fail(lockout, 'alice', 5) == [None, None, None, None, 60.0]
    refused = lockout.begin('alice')
    assert refused is not None
    assert refused.wait == '60 s'
    await clock.advance(59)
    assert lockout.begin('alice') is not None
    await clock.advance(1)
    assert lockout.begin('alice') is None


async def test_then_each_further_failure_doubles_the_wait_up_to_the_maximum(
    lockout: FailureLockout[str], clock: FakeClock
) -> None:
    fail(lockout, 'alice', 5)
    waits = []
    for _ in range(6):
        await clock.advance(900)
        waits.extend(fail(lockout, 'alice'))
    assert waits == [120.0, 240.0, 480.0, 900.0, 900.0, 900.0]


async def test_failures_older_than_the_window_are_not_counted(lockout: FailureLockout[str], clock: FakeClock) -> None:
    fail(lockout, 'alice', 4)
    await clock.advance(61)
    assert fail(lockout, 'alice', 4) == [None] * 4


async def test_a_success_forgives_the_failures(lockout: FailureLockout[str]) -> None:
    fail(lockout, 'alice', 4)
    assert lockout.begin('alice') is None
    lockout.succeeded('alice')
    assert fail(lockout, 'alice', 4) == [None] * 4


async def test_a_key_quiet_for_the_longest_lock_starts_afresh(lockout: FailureLockout[str], clock: FakeClock) -> None:
    fail(lockout, 'alice', 5)
    await clock.advance(60)
    fail(lockout, 'alice')  # 120 s
    await clock.advance(120 + 900)
    lockout.begin('bob')  # forgetting happens as other keys come
    lockout.released('bob')
    assert fail(lockout, 'alice', 5) == [None, None, None, None, 60.0]


async def test_keys_are_locked_independently(lockout: FailureLockout[str]) -> None:
    fail(lockout, 'alice', 5)
    assert lockout.begin('bob') is None


async def test_attempts_in_flight_take_the_allowance_so_parallel_guesses_cannot_slip_past(
    lockout: FailureLockout[str],
) -> None:
    assert [lockout.begin('alice') for _ in range(5)] == [None] * 5
    refused = lockout.begin('alice')
    assert refused is not None
    assert refused.wait == '1 s'
    lockout.released('alice')  # one ended without a verdict: its place is free again
    assert lockout.begin('alice') is None


async def test_an_attempt_that_ended_without_a_verdict_does_not_count(lockout: FailureLockout[str]) -> None:
    for _ in range(20):
        assert lockout.begin('alice') is None
        lockout.released('alice')
    assert fail(lockout, 'alice', 4) == [None] * 4


async def test_sign_in_memory_stays_bounded_when_someone_sprays_names(clock: FakeClock) -> None:
    lockout: FailureLockout[str] = FailureLockout(5, 60.0, clock, max_lock_s=900.0, max_keys=1000)
    for number in range(20_000):
        fail(lockout, f'name{number}')
        assert len(lockout) <= 1000


# call attempts per user, through a tab


async def test_the_eleventh_call_in_a_minute_is_refused_with_the_wait(
    world: World, alice: Device, bob: Device, carol: Device, logs: pytest.LogCaptureFixture
) -> None:
    for _ in range(10):
        await alice.hang_up(await ring(alice, bob))
    tab_of(bob).clear()
    with pytest.raises(CallError, match=r'^You are calling too often\. Try again in 6 s\.$'):
        await alice.call_user('bob')
    assert tab_of(bob).views == []  # bob's browser did not ring
    assert len(world.recorder.created) == 10
    assert alice.call is None
    await carol.hang_up(await ring(carol, bob))  # others still call bob
    await world.clock.advance(6)
    assert seen(bob, await ring(alice, bob)).state == CallState.RINGING
    assert [line for line in log_lines(logs) if 'Rate limited' in line] == [
        '⚠️ Rate limited: calls by alice (retry in 6 s)'
    ]


async def test_calls_per_minute_is_a_setting(clock: FakeClock, recorder: FakeRecorder) -> None:
    world = World(clock, recorder, make_board(clock, recorder, Limits(calls_per_minute=2)))
    alice, bob = await world.tab('alice'), await world.tab('bob')
    await alice.hang_up(await ring(alice, bob))
    await alice.hang_up(await ring(alice, bob))
    with pytest.raises(CallError, match='Try again in 30 s'):
        await ring(alice, bob)


# signaling messages per tab


async def flood(device: Device, message: dict[str, object], times: int) -> list[SignalsDropped]:
    """Send `times` copies of `message`; returns the SignalsDropped raised (other errors fail the test)."""
    dropped = []
    for _ in range(times):
        try:
            await device.signal(message)
        except SignalsDropped as error:
            dropped.append(error)
    return dropped


async def test_a_signaling_flood_is_dropped_beyond_the_burst_and_said_once(
    world: World, alice: Device, bob: Device, logs: pytest.LogCaptureFixture
) -> None:
    call_id = await talk(alice, bob)
    tab_of(bob).clear()
    before = world.calls.get(call_id)
    assert before is not None
    dropped = await flood(alice, candidate(call_id, leg_of(alice, call_id)), 5000)
    assert len(tab_of(bob).relayed) == 200 - 1  # the burst (but alice's media_up) reached bob, the rest did not
    assert [str(error) for error in dropped] == [
        'This tab sent too many call signals; some were dropped. The call may fail.'
    ]
    assert world.calls.get(call_id) is before
    assert alice.call is not None and bob.call is not None
    assert alice.call.state == bob.call.state == CallState.ACTIVE
    assert [line for line in log_lines(logs) if 'Rate limited' in line] == [
        '⚠️ Rate limited: signaling from alice (1 dropped, retry in 1 s; reported once a minute)'
    ]


async def test_the_other_side_of_the_call_still_signals_during_a_flood(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    await flood(alice, candidate(call_id, leg_of(alice, call_id)), 1000)
    tab_of(alice).clear()
    await bob.signal(candidate(call_id, leg_of(bob, call_id)))
    assert len(tab_of(alice).relayed) == 1


async def test_after_a_second_the_flooding_tab_may_signal_again_at_the_rate(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    await flood(alice, candidate(call_id, leg_of(alice, call_id)), 1000)
    await world.clock.advance(1)
    tab_of(bob).clear()
    assert await flood(alice, candidate(call_id, leg_of(alice, call_id)), 1000) == []  # told once a minute, not again
    assert len(tab_of(bob).relayed) == 50


async def test_a_browsers_burst_at_the_start_of_a_call_is_well_within_the_limit(world: World) -> None:
    """The callee has five tabs open: each sends an offer and about twenty ICE candidates at once, and the caller
    an answer and about twenty candidates per leg (over a hundred messages)."""
    alice = await world.tab('alice')
    bobs = [await world.tab('bob') for _ in range(5)]
    call_id = await ring(alice, bobs[0])
    for bob in bobs:
        await bob.signal(offer(call_id, leg_of(bob, call_id)))
        for _ in range(20):
            await bob.signal(candidate(call_id, leg_of(bob, call_id)))
    for bob in bobs:
        await alice.signal(answer_signal(call_id, leg_of(bob, call_id)))
        for _ in range(20):
            await alice.signal(candidate(call_id, leg_of(bob, call_id)))
    assert len(tab_of(alice).relayed) == 5 * 21
    assert [len(tab_of(bob).relayed) for bob in bobs] == [21] * 5


async def test_a_flood_from_one_tab_does_not_limit_another_tab_of_the_same_user(world: World, bob: Device) -> None:
    laptop, phone = await world.tab('alice', browser='laptop'), await world.tab('alice', browser='phone')
    call_id = await talk(laptop, bob)
    await flood(laptop, candidate(call_id, leg_of(laptop, call_id)), 1000)
    with pytest.raises(CallError, match='not a party'):  # judged on its merits, not dropped
        await phone.signal(candidate(call_id, leg_of(laptop, call_id)))


async def test_signals_per_second_is_a_setting(clock: FakeClock, recorder: FakeRecorder) -> None:
    limits = Limits(signals_per_second=5, signal_burst=10)
    world = World(clock, recorder, make_board(clock, recorder, limits))
    alice, bob = await world.tab('alice'), await world.tab('bob')
    call_id = await ring(alice, bob)
    await flood(bob, offer(call_id, leg_of(bob, call_id)), 100)
    assert len(tab_of(alice).relayed) == 10


@pytest.fixture(autouse=True)
def _warnings_are_captured(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger='voiceconnect')


# every other event a person causes, per user


async def test_mute_flipped_past_the_limit_is_refused_and_the_peer_hears_no_more(
    world: World, alice: Device, bob: Device, logs: pytest.LogCaptureFixture
) -> None:
    call_id = await talk(alice, bob)
    for flip in range(60):
        await alice.set_muted(call_id, flip % 2 == 0)
    tab_of(bob).clear()
    with pytest.raises(CallError, match=r'^You muted and unmuted too often\. Try again in 1 s\.$'):
        await alice.set_muted(call_id, True)
    assert tab_of(bob).views == []
    await world.clock.advance(1)
    assert (await alice.set_muted(call_id, True)).me_muted
    assert [line for line in log_lines(logs) if 'Rate limited' in line] == [
        '⚠️ Rate limited: mutes by alice (retry in 1 s)'
    ]


async def test_the_whole_online_list_asked_for_past_the_limit_is_refused(world: World, alice: Device) -> None:
    for _ in range(60):
        alice.list_online_users()
    with pytest.raises(CallError, match=r'^The online list was asked for too often\. Try again in 1 s\.$'):
        alice.list_online_users()
    assert alice.online_users() == ()  # what the server reads for itself is not counted
    await world.clock.advance(1)
    assert alice.list_online_users() == ()


@pytest.mark.parametrize(
    ('limits', 'action'),
    [
        (Limits(mutes_per_minute=2), 'mute'),
        (Limits(list_refreshes_per_minute=2), 'list'),
    ],
)
async def test_the_limits_on_user_events_are_settings(
    clock: FakeClock, recorder: FakeRecorder, limits: Limits, action: str
) -> None:
    world = World(clock, recorder, make_board(clock, recorder, limits))
    alice, bob = await world.tab('alice'), await world.tab('bob')
    call_id = await talk(alice, bob)

    async def once() -> None:
        if action == 'mute':
            await alice.set_muted(call_id, True)
        else:
            alice.list_online_users()

    await once()
    await once()
    with pytest.raises(CallError, match='Try again in 30 s'):
        await once()


async def test_calling_a_name_nobody_can_have_says_so_with_a_short_quoted_prefix(world: World, alice: Device) -> None:
    for name, shown in [
        ('x' * 100_000, "'xxxxxxxxxxxxxxxxxxxx…'"),
        ('bob\n✅ Call answered: x', "'bob\\n✅ Call answered:…'"),
        ('', "''"),
    ]:
        with pytest.raises(CallError) as refused:
            await alice.call_user(name)
        assert str(refused.value) == f'There is nobody called {shown}.'
    for _ in range(10):  # none of them rings anyone, nor counts as a call attempt
        with pytest.raises(CallError):
            await alice.call_user('')
    assert world.recorder.created == []
    assert (await alice.call_user('dave')).peer == 'dave'
