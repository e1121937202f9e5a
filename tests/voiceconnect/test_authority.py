"""The server decides: only a call's parties, on the right tab, in the right state, may act on it."""

from collections.abc import Awaitable, Callable

import pytest

from voiceconnect.calls.machine import Call, CallError, CallState
from voiceconnect.connections.device import Device

from .helpers import World, answer, answer_signal, candidate, leg_of, offer, ring, seen, tab_of

Action = Callable[[Device, str, str], Awaitable[object]]  # (device, call id, a leg of the call)

ACTIONS: dict[str, Action] = {
    'accept': lambda device, call_id, leg: device.accept(call_id),
    'decline': lambda device, call_id, leg: device.decline(call_id),
    'hang_up': lambda device, call_id, leg: device.hang_up(call_id),
    'mute': lambda device, call_id, leg: device.set_muted(call_id, True),
    'offer': lambda device, call_id, leg: device.signal(offer(call_id, leg)),
    'answer': lambda device, call_id, leg: device.signal(answer_signal(call_id, leg)),
    'candidate': lambda device, call_id, leg: device.signal(candidate(call_id, leg)),
    'media_up': lambda device, call_id, leg: device.signal({'kind': 'media_up', 'call_id': call_id}),
    'media_failed': lambda device, call_id, leg: device.signal(
        {'kind': 'media_failed', 'call_id': call_id, 'reason': 'mic_missing'}
    ),
}
SIGNALS = ['offer', 'answer', 'candidate', 'media_up', 'media_failed']


def snapshot(call: Call) -> tuple:
    return (
        call.state,
        dict(call.legs),
        call.answered_leg,
        call.answered_at,
        call.end_reason,
        frozenset(call.muted),
        frozenset(call.media_up),
    )


def heard(*devices: Device) -> list[int]:
    return [len(tab_of(d).events) + len(tab_of(d).relayed) for d in devices]


@pytest.mark.parametrize('phase', ['ringing', 'answered'])
@pytest.mark.parametrize('action', ACTIONS)
async def test_a_third_person_cannot_touch_someone_elses_call(
    world: World, alice: Device, bob: Device, carol: Device, action: str, phase: str
) -> None:
    call_id = await ring(alice, bob) if phase == 'ringing' else await answer(alice, bob)
    call, leg = world.call(call_id), leg_of(bob, call_id)
    before, noise = snapshot(call), heard(alice, bob)
    with pytest.raises(CallError, match='No such call'):
        await ACTIONS[action](carol, call_id, leg)
    assert snapshot(call) == before
    assert heard(alice, bob) == noise


@pytest.mark.parametrize('action', ACTIONS)
async def test_unknown_call_ids_are_rejected(alice: Device, bob: Device, action: str) -> None:
    await ring(alice, bob)
    with pytest.raises(CallError, match='No such call'):
        await ACTIONS[action](alice, 'cNoSuchCall', 'lNoSuchLeg')


@pytest.mark.parametrize('action', ACTIONS)
async def test_actions_on_an_ended_call_are_rejected(alice: Device, bob: Device, action: str) -> None:
    call_id = await answer(alice, bob)
    leg = leg_of(bob, call_id)
    await alice.hang_up(call_id)
    with pytest.raises(CallError):
        await ACTIONS[action](bob, call_id, leg)


async def test_the_caller_cannot_accept_their_own_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    with pytest.raises(CallError, match='Only the person called'):
        await alice.accept(call_id)
    assert world.call(call_id).state == CallState.RINGING


async def test_the_caller_cannot_decline_their_own_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    with pytest.raises(CallError):
        await alice.decline(call_id)
    assert world.call(call_id).state == CallState.RINGING


async def test_the_callee_declines_rather_than_hangs_up_while_ringing(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    with pytest.raises(CallError):
        await bob.hang_up(call_id)
    assert world.call(call_id).state == CallState.RINGING


async def test_the_callers_other_tab_cannot_hang_up_for_it(world: World, alice: Device, bob: Device) -> None:
    alice2 = await world.tab('alice')
    call_id = await answer(alice, bob)
    with pytest.raises(CallError):
        await alice2.hang_up(call_id)
    assert world.call(call_id).live


@pytest.mark.parametrize('action', [*SIGNALS, 'mute'])
async def test_after_the_answer_the_other_callee_tab_can_no_longer_signal(
    world: World, alice: Device, bob: Device, action: str
) -> None:
    bob2 = await world.tab('bob')
    call_id = await ring(alice, bob)
    leg2 = leg_of(bob2, call_id)
    await bob.accept(call_id)
    call = world.call(call_id)
    before = snapshot(call)
    with pytest.raises(CallError):
        await ACTIONS[action](bob2, call_id, leg2)
    assert snapshot(call) == before


async def test_an_offer_from_the_caller_is_rejected(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    with pytest.raises(CallError, match='callee sends the offer'):
        await alice.signal(offer(call_id, leg_of(bob, call_id)))
    assert tab_of(bob).relayed == []


async def test_an_answer_from_the_callee_is_rejected(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    with pytest.raises(CallError, match='caller sends the answer'):
        await bob.signal(answer_signal(call_id, leg_of(bob, call_id)))
    assert tab_of(alice).relayed == []


async def test_a_callee_tab_cannot_speak_for_another_tabs_leg(world: World, alice: Device, bob: Device) -> None:
    bob2 = await world.tab('bob')
    call_id = await ring(alice, bob)
    with pytest.raises(CallError, match='not yours'):
        await bob.signal(offer(call_id, leg_of(bob2, call_id)))
    assert tab_of(alice).relayed == []


async def test_the_caller_cannot_signal_an_unknown_leg(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    with pytest.raises(CallError, match='Unknown leg'):
        await alice.signal(answer_signal(call_id, 'lMadeUp'))


async def test_after_the_answer_the_caller_cannot_signal_the_losing_leg(
    world: World, alice: Device, bob: Device
) -> None:
    bob2 = await world.tab('bob')
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    with pytest.raises(CallError, match='Unknown leg'):
        await alice.signal(candidate(call_id, leg_of(bob2, call_id)))
    assert tab_of(bob2).relayed == []


async def test_media_up_before_the_answer_is_rejected(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    with pytest.raises(CallError, match='before the call was answered'):
        await alice.signal({'kind': 'media_up', 'call_id': call_id})
    assert world.call(call_id).state == CallState.RINGING


async def test_a_closed_tab_can_no_longer_act(world: World, alice: Device, bob: Device) -> None:
    bob2 = await world.tab('bob')
    call_id = await ring(alice, bob)
    await bob.detach()
    with pytest.raises(CallError):
        await bob.accept(call_id)
    assert seen(bob2, call_id).ringing_here


async def test_a_signed_out_tab_cannot_place_a_call(world: World, alice: Device, bob: Device) -> None:
    await world.board.end(world.service_of(alice), 'logout')
    with pytest.raises(CallError):
        await alice.call_user('bob')
    assert bob.call is None


async def test_a_closed_tab_cannot_place_a_call(world: World, alice: Device, bob: Device) -> None:
    await world.tab('alice')  # alice stays online in another tab
    await alice.detach()
    with pytest.raises(CallError):
        await alice.call_user('bob')
    assert bob.call is None
