"""A callee with several tabs: all ring, the first answer wins, the others are told."""

import pytest

from voiceconnect.calls.machine import CallError, CallState, EndReason
from voiceconnect.connections.device import Device

from .helpers import World, ring, seen, tab_of


@pytest.fixture
async def bob2(world: World, bob: Device) -> Device:
    """bob's second tab, in the same browser as his first."""
    return await world.tab('bob')


async def test_every_tab_of_the_callee_rings(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    assert seen(bob, call_id).ringing_here
    assert seen(bob2, call_id).ringing_here


async def test_each_ringing_tab_gets_its_own_leg(world: World, alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    assert len(world.call(call_id).legs) == 2
    assert seen(bob, call_id).leg != seen(bob2, call_id).leg


async def test_tabs_in_another_browser_ring_too(world: World, alice: Device, bob: Device) -> None:
    bob_phone = await world.tab('bob', browser='bob-phone')
    call_id = await ring(alice, bob)
    assert seen(bob_phone, call_id).ringing_here


async def test_a_tab_reconnecting_within_grace_is_rung_too(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    """A blip must not make a call miss a tab: NiceGUI replays the ring when the socket comes back."""
    await bob2.set_connected(False)
    call_id = await ring(alice, bob)
    assert len(world.call(call_id).legs) == 2
    assert seen(bob2, call_id).ringing_here


async def test_accept_on_one_tab_tells_the_other_answered_elsewhere(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    other = seen(bob2, call_id)
    assert other.answered_elsewhere
    assert not other.ringing_here
    assert not other.here


async def test_the_answering_tab_carries_the_call(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    await bob2.accept(call_id)
    view = seen(bob2, call_id)
    assert (view.here, view.answered_elsewhere, view.state) == (True, False, CallState.CONNECTING)


async def test_caller_sees_the_leg_that_answered(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    await bob2.accept(call_id)
    assert seen(alice, call_id).leg == seen(bob2, call_id).leg


async def test_decline_on_one_tab_ends_the_call_for_every_tab(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    await bob2.decline(call_id)
    for device in (alice, bob, bob2):
        assert (seen(device, call_id).state, seen(device, call_id).end_reason) == (CallState.ENDED, EndReason.DECLINED)
    assert not seen(bob, call_id).ringing_here


async def test_the_tab_that_declined_knows_it_did(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    await bob2.decline(call_id)
    assert seen(bob2, call_id).ended_by_me
    assert seen(bob, call_id).ended_by_me  # same person: the other tab can say "declined in another tab"


async def test_a_second_accept_fails(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    with pytest.raises(CallError, match='already answered'):
        await bob2.accept(call_id)
    assert seen(bob, call_id).here


async def test_decline_after_another_tab_answered_fails(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    with pytest.raises(CallError):
        await bob2.decline(call_id)
    assert alice.call is not None
    assert alice.call.state == CallState.CONNECTING


async def test_the_other_tab_cannot_hang_up_the_call_it_did_not_answer(
    alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    with pytest.raises(CallError):
        await bob2.hang_up(call_id)
    assert alice.call is not None


async def test_a_tab_opened_after_the_ring_cannot_accept(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    late = await world.tab('bob')
    with pytest.raises(CallError, match='not ringing here'):
        await late.accept(call_id)


async def test_closing_one_ringing_tab_keeps_the_others_ringing(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    await bob.detach()
    assert len(world.call(call_id).legs) == 1
    assert seen(bob2, call_id).ringing_here
    await bob2.accept(call_id)
    assert seen(alice, call_id).state == CallState.CONNECTING


async def test_closing_the_last_ringing_tab_ends_the_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await bob.detach()
    assert seen(alice, call_id).end_reason == EndReason.CONNECTION_LOST


async def test_media_up_from_the_answering_tab_makes_the_call_active(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    await bob2.accept(call_id)
    await alice.signal({'kind': 'media_up', 'call_id': call_id})
    await bob2.signal({'kind': 'media_up', 'call_id': call_id})
    assert seen(alice, call_id).state == CallState.ACTIVE


async def test_callers_other_tab_sees_the_call_but_does_not_carry_it(world: World, alice: Device, bob: Device) -> None:
    alice2 = await world.tab('alice')
    call_id = await ring(alice, bob)
    view = seen(alice2, call_id)
    assert (view.role, view.here, view.state) == ('caller', False, CallState.RINGING)


async def test_every_tab_of_both_people_hears_the_end(world: World, alice: Device, bob: Device, bob2: Device) -> None:
    alice2 = await world.tab('alice')
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    await alice.hang_up(call_id)
    for device in (alice, alice2, bob, bob2):
        assert tab_of(device).last_view(call_id).state == CallState.ENDED
