"""The observer seam: what the core tells its observers (the metrics) as it happens, exactly once each."""

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from voiceconnect import observe
from voiceconnect.calls.machine import CallError
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.ratelimit import Limits

from .helpers import FakeRecorder, World, answer, leg_of, make_board, offer, ring, talk

Heard = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def heard() -> Iterator[Heard]:
    found: Heard = []
    unsubscribe = observe.listen(lambda happening, fields: found.append((happening, fields)))
    yield found
    unsubscribe()


def kinds(heard: Heard, happening: str) -> list[dict[str, Any]]:
    return [fields for name, fields in heard if name == happening]


async def test_a_call_rings_once_and_ends_once_with_its_outcome_and_talk_time(
    world: World, alice: Device, bob: Device, heard: Heard
) -> None:
    call_id = await talk(alice, bob)
    await world.clock.advance(30)
    await bob.hang_up(call_id)
    (rang,) = kinds(heard, 'call_rang')
    assert 0 <= rang['seconds'] < 1
    assert kinds(heard, 'call_ended') == [{'outcome': 'completed', 'duration_s': 30.0}]


async def test_a_declined_call_has_no_talk_time(alice: Device, bob: Device, heard: Heard) -> None:
    await bob.decline(await ring(alice, bob))
    assert kinds(heard, 'call_ended') == [{'outcome': 'declined', 'duration_s': None}]


async def test_signals_are_counted_by_result(alice: Device, bob: Device, heard: Heard) -> None:
    call_id = await answer(alice, bob)
    await bob.signal(offer(call_id, leg_of(bob, call_id)))
    with pytest.raises(CallError):
        await alice.signal({'kind': 'nonsense'})
    assert [fields['result'] for fields in kinds(heard, 'signal')] == ['accepted', 'rejected']


async def test_call_attempts_over_the_limit_are_counted(heard: Heard) -> None:
    clock, recorder = FakeClock(), FakeRecorder()
    world = World(clock, recorder, make_board(clock, recorder, Limits(calls_per_minute=1)))
    alice, bob = await world.tab('alice'), await world.tab('bob')
    await alice.hang_up((await alice.call_user('bob')).id)
    with pytest.raises(CallError, match='too often'):
        await alice.call_user('bob')
    assert kinds(heard, 'rate_limited') == [{'limit': 'calls'}]
    assert bob.user == 'bob'


def test_a_failing_observer_is_logged_and_the_others_still_hear(caplog: pytest.LogCaptureFixture) -> None:
    found: list[str] = []

    def broken(happening: str, fields: dict[str, Any]) -> None:
        raise RuntimeError('observer bug')

    undo = [observe.listen(broken), observe.listen(lambda happening, fields: found.append(happening))]
    try:
        with caplog.at_level(logging.ERROR, 'voiceconnect'):
            observe.notify('sign_in_failed')
    finally:
        for unsubscribe in undo:
            unsubscribe()
    assert found == ['sign_in_failed']
    assert 'an observer failed on sign_in_failed' in caplog.text
