"""Property-based fuzzing of the signaling entry point: random and malformed events from random senders against
live calls never escape as exceptions, never change a call they may not change, never reach a non-party.

The generation and the invariants live in `fuzzing.py`; `bench/fuzz.py` runs the same with 10,000+ examples.
"""

from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from voiceconnect.calls.machine import Call
from voiceconnect.calls.store import CallTx

from .fuzzing import SENDERS, STATES, Attempt, CallRef, Fuzzer, LegRef, Scene, attempt_lists, scene_states

FUZZ_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ_SETTINGS
@given(states=scene_states, attempts=attempt_lists)
def test_random_events_from_random_senders_break_no_invariant(states: tuple[str, ...], attempts: list[Attempt]) -> None:
    assert Fuzzer(Scene.build(states)).run(attempts) == []


# Hand-picked attempts the generator can make too, so each class is covered on every run, not just likely.
# Devices of a scene: 0-1 alice, 2-3 bob (2 = answered), 4-5 carol, 6-7 dave, 8-9 erin, 10-11 frank, 12 mallory,
# 13 mallory's closed tab.
MALLORY, CLOSED, BOB, BOB_ELSEWHERE, ALICE_OTHER_TAB = 12, 13, 2, 3, 1
ALICE_AND_BOB = CallRef(0)
# (sender, state of alice's call with bob): bob's second tab is a party while it rings, an outsider once answered
OUTSIDERS = [
    *[(sender, state) for sender in (MALLORY, CLOSED, ALICE_OTHER_TAB) for state in STATES],
    *[(BOB_ELSEWHERE, state) for state in ('connecting', 'active', 'ended')],
]
FORGED = {
    'offer for bob': {'kind': 'offer', 'call_id': ALICE_AND_BOB, 'leg': LegRef(0, 0), 'sdp': 'v=0'},
    'answer for alice': {'kind': 'answer', 'call_id': ALICE_AND_BOB, 'leg': LegRef(0, 0), 'sdp': 'v=0'},
    'candidate': {'kind': 'candidate', 'call_id': ALICE_AND_BOB, 'leg': LegRef(0, 1), 'candidate': 'candidate:1'},
    'media up': {'kind': 'media_up', 'call_id': ALICE_AND_BOB},
    'media failed': {'kind': 'media_failed', 'call_id': ALICE_AND_BOB, 'reason': 'mic_refused'},
    'impersonating alice': {'kind': 'media_failed', 'call_id': ALICE_AND_BOB, 'reason': 'mic_refused', 'user': 'alice'},
    'log forging kind': {'kind': 'x\n✅ Call answered: mallory → alice', 'call_id': ALICE_AND_BOB},
    'huge kind': {'kind': 'k' * 100_000, 'call_id': ALICE_AND_BOB},
    'oversize sdp': {'kind': 'offer', 'call_id': ALICE_AND_BOB, 'leg': LegRef(0, 0), 'sdp': 'x' * 65 * 1024},
    'not a dict': ['media_up', ALICE_AND_BOB],
    'nothing': None,
    'nan call id': {'kind': 'media_up', 'call_id': float('nan')},
    'nested junk': {'kind': {'kind': 'media_up'}, 'call_id': [ALICE_AND_BOB]},
}


@pytest.mark.parametrize(('sender', 'state'), OUTSIDERS)
@pytest.mark.parametrize('payload', FORGED.values(), ids=FORGED.keys())
def test_forged_signals_from_outsiders_are_rejected(sender: int, state: str, payload: object) -> None:
    fuzzer = Fuzzer(Scene.build((state, 'active', 'ringing')))
    assert fuzzer.run([Attempt(sender, 'signal', payload)]) == []
    assert fuzzer.tally.accepted == 0


@pytest.mark.parametrize(('sender', 'state'), OUTSIDERS)
@pytest.mark.parametrize('action', [action for action in SENDERS if action != 'signal'])
def test_forged_button_actions_from_outsiders_are_rejected(sender: int, state: str, action: str) -> None:
    fuzzer = Fuzzer(Scene.build((state, 'active', 'ringing')))
    assert fuzzer.run([Attempt(sender, action, ALICE_AND_BOB)]) == []
    assert fuzzer.tally.accepted == 0


def test_the_fuzzer_notices_a_broken_rule() -> None:
    """The checks are not vacuous: an entry point that lets anyone hang up is caught."""
    scene = Scene.build(('active', 'active', 'ringing'))
    mallory = scene.devices[MALLORY]
    real = scene.world.calls._call_for

    def anyone_is_alice(tx: CallTx, call_id: str, user: str) -> Coroutine[Any, Any, Call]:
        return real(tx, call_id, scene.call(0).caller)

    scene.world.calls._call_for = anyone_is_alice  # type: ignore[method-assign]
    scene.world.calls.calls[scene.call_ids[0]].caller_device = mallory.id  # as if mallory held alice's tab
    assert Fuzzer(scene).run([Attempt(MALLORY, 'hang_up', ALICE_AND_BOB)]) != []


def test_valid_events_from_the_parties_are_accepted() -> None:
    """The fuzzer's own sanity: the real parties' legitimate events get through (else it proves nothing)."""
    fuzzer = Fuzzer(Scene.build(('ringing', 'connecting', 'active')))
    ok = [
        Attempt(BOB, 'signal', {'kind': 'offer', 'call_id': ALICE_AND_BOB, 'leg': LegRef(0, 0), 'sdp': 'v=0'}),
        Attempt(BOB, 'accept', ALICE_AND_BOB),
        Attempt(0, 'mute', ALICE_AND_BOB),
        Attempt(0, 'signal', {'kind': 'media_up', 'call_id': ALICE_AND_BOB}),
        Attempt(BOB, 'hang_up', ALICE_AND_BOB),
    ]
    assert fuzzer.run(ok) == []
    assert fuzzer.tally.accepted == len(ok)
