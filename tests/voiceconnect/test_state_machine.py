"""The call state machine's tables (calls.TRANSITIONS, calls.END_REASONS): every allowed transition is allowed,
every other one is refused, and the machine itself only ever makes allowed ones."""

import itertools

import pytest

from voiceconnect.calls.machine import (
    END_REASONS,
    TRANSITIONS,
    CallState,
    EndReason,
    IllegalTransition,
    check_transition,
)
from voiceconnect.calls.manager import Outcome
from voiceconnect.calls.store import CallTx
from voiceconnect.connections.device import Device

from .helpers import World, answer, media_up, ring, talk

S, R = CallState, EndReason
ALLOWED_MOVES = {(S.RINGING, S.CONNECTING), (S.CONNECTING, S.ACTIVE)}
ALLOWED_ENDINGS = {
    S.RINGING: {R.DECLINED, R.CANCELLED, R.MISSED, R.BUSY, R.OFFLINE, R.DO_NOT_DISTURB, R.FAILED, R.CONNECTION_LOST}
    | {R.SERVER_RESTART},
    S.CONNECTING: {R.COMPLETED, R.FAILED, R.CONNECTION_LOST, R.SERVER_RESTART},
    S.ACTIVE: {R.COMPLETED, R.FAILED, R.CONNECTION_LOST, R.SERVER_RESTART},
    S.ENDED: set(),
}
MOVES = [(a, b) for a, b in itertools.product(S, S) if b != S.ENDED]
ENDINGS = list(itertools.product(S, R))


def test_the_tables_are_the_machine_written_down() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets if b != S.ENDED} == ALLOWED_MOVES
    assert {state for state, targets in TRANSITIONS.items() if S.ENDED in targets} == {
        S.RINGING,
        S.CONNECTING,
        S.ACTIVE,
    }
    assert {state: set(reasons) for state, reasons in END_REASONS.items()} == ALLOWED_ENDINGS


@pytest.mark.parametrize(('current', 'target'), MOVES, ids=[f'{a}→{b}' for a, b in MOVES])
def test_every_move_between_live_states(current: CallState, target: CallState) -> None:
    if (current, target) in ALLOWED_MOVES:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


@pytest.mark.parametrize(('current', 'reason'), ENDINGS, ids=[f'{s}→ended:{r}' for s, r in ENDINGS])
def test_every_ending_from_every_state(current: CallState, reason: EndReason) -> None:
    if reason in ALLOWED_ENDINGS[current]:
        check_transition(current, S.ENDED, reason)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, S.ENDED, reason)


def test_ending_needs_a_reason_and_moving_takes_none() -> None:
    with pytest.raises(IllegalTransition):
        check_transition(S.ACTIVE, S.ENDED)
    with pytest.raises(IllegalTransition):
        check_transition(S.RINGING, S.CONNECTING, R.COMPLETED)


def test_an_ended_call_goes_nowhere() -> None:
    for target in S:
        with pytest.raises(IllegalTransition):
            check_transition(S.ENDED, target, R.COMPLETED if target == S.ENDED else None)


# the machine follows its tables: a transition it was not built for is a bug, caught, not silently done


async def test_the_machine_refuses_to_end_an_answered_call_as_missed(world: World, alice: Device, bob: Device) -> None:
    call_id = await answer(alice, bob)
    call = world.calls.get(call_id)
    assert call is not None

    async def end_as_missed(tx: CallTx, out: Outcome) -> None:
        world.calls._end(tx, out, call, R.MISSED)

    with pytest.raises(IllegalTransition):
        await world.calls._transact(end_as_missed)
    assert call.state == S.CONNECTING  # nothing was changed, logged or recorded
    assert world.recorder.finished == []


async def test_each_state_of_a_call_is_one_the_tables_lead_to(world: World, alice: Device, bob: Device) -> None:
    states = []
    call_id = await ring(alice, bob)
    states.append(world.call(call_id).state)
    await bob.accept(call_id)
    states.append(world.call(call_id).state)
    await media_up(alice, call_id)
    await media_up(bob, call_id)
    states.append(world.call(call_id).state)
    await alice.hang_up(call_id)
    states.append(world.call(call_id).state)
    assert states == [S.RINGING, S.CONNECTING, S.ACTIVE, S.ENDED]
    for before, after in itertools.pairwise(states):
        assert after in TRANSITIONS[before]
    assert world.call(call_id).end_reason in END_REASONS[S.ACTIVE]


async def test_each_outcome_is_logged_once(
    world: World, alice: Device, bob: Device, logs: pytest.LogCaptureFixture
) -> None:
    call_id = await ring(alice, bob)
    await alice.hang_up(call_id)
    await world.clock.advance(1)
    call_id = await talk(alice, bob)
    await bob.hang_up(call_id)
    lines = [r.getMessage() for r in logs.records if r.name == 'voiceconnect']
    assert sum('Call cancelled' in line for line in lines) == 1
    assert sum('Call ended' in line for line in lines) == 1
