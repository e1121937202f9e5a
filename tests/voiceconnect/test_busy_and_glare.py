"""Calling someone already in a call (busy), and two people calling each other at once (glare)."""

import pytest

from voiceconnect.calls.machine import CallState, EndReason
from voiceconnect.connections.device import Device

from .helpers import World, answer, log_lines, ring, seen, tab_of, talk

# busy


@pytest.fixture
async def carol_calls_busy_bob(world: World, alice: Device, bob: Device, carol: Device) -> tuple[str, str]:
    """alice and bob are talking; carol calls bob. Returns (alice's call id, carol's call id)."""
    talking = await talk(alice, bob)
    return talking, (await carol.call_user('bob')).id


async def test_calling_a_busy_user_returns_a_call_already_ended_busy(world: World, alice: Device, bob: Device) -> None:
    carol = await world.tab('carol')
    await talk(alice, bob)
    view = await carol.call_user('bob')
    assert (view.state, view.end_reason, view.peer, view.role) == (CallState.ENDED, EndReason.BUSY, 'bob', 'caller')


async def test_busy_caller_hears_it_on_their_tab_at_once(carol: Device, carol_calls_busy_bob: tuple[str, str]) -> None:
    _, busy = carol_calls_busy_bob
    assert seen(carol, busy).end_reason == EndReason.BUSY
    assert carol.call is None


async def test_busy_leaves_the_existing_call_untouched(world: World, alice: Device, bob: Device, carol: Device) -> None:
    talking = await talk(alice, bob)
    call = world.call(talking)
    before = (call.state, dict(call.legs), call.answered_leg, call.answered_at, set(call.media_up), call.deadline)
    await carol.call_user('bob')
    assert world.live_calls() == [call]
    assert (
        call.state,
        dict(call.legs),
        call.answered_leg,
        call.answered_at,
        set(call.media_up),
        call.deadline,
    ) == before


async def test_busy_does_not_ring_the_callees_tabs(bob: Device, carol_calls_busy_bob: tuple[str, str]) -> None:
    talking, busy = carol_calls_busy_bob
    assert not any(view.ringing_here for view in tab_of(bob).views_of(busy))
    assert bob.call is not None
    assert (bob.call.id, bob.call.state) == (talking, CallState.ACTIVE)


async def test_busy_does_not_change_what_the_callees_peer_sees(
    alice: Device, carol_calls_busy_bob: tuple[str, str]
) -> None:
    talking, busy = carol_calls_busy_bob
    assert tab_of(alice).views_of(busy) == []
    assert seen(alice, talking).state == CallState.ACTIVE


async def test_calling_someone_whose_phone_is_ringing_is_busy(alice: Device, bob: Device, carol: Device) -> None:
    ringing = await ring(alice, bob)
    view = await carol.call_user('bob')
    assert view.end_reason == EndReason.BUSY
    assert seen(bob, ringing).ringing_here
    assert bob.call is not None
    assert bob.call.id == ringing


async def test_calling_someone_who_is_calling_a_third_person_is_busy(alice: Device, bob: Device, carol: Device) -> None:
    await ring(alice, bob)
    assert (await carol.call_user('alice')).end_reason == EndReason.BUSY


async def test_busy_call_is_recorded_with_reason_busy(world: World, carol_calls_busy_bob: tuple[str, str]) -> None:
    _, busy = carol_calls_busy_bob
    finished = [c for c in world.recorder.finished if c.id == busy]
    assert [(c.caller, c.callee, c.end_reason) for c in finished] == [('carol', 'bob', EndReason.BUSY)]


async def test_busy_is_logged(logs: pytest.LogCaptureFixture, carol_calls_busy_bob: tuple[str, str]) -> None:
    assert any('busy' in line.lower() and 'carol' in line and 'bob' in line for line in log_lines(logs))


# glare


async def test_glare_leaves_exactly_one_live_call(world: World, alice: Device, bob: Device) -> None:
    await ring(bob, alice)
    await alice.call_user('bob')
    assert len(world.live_calls()) == 1


async def test_glare_answers_the_surviving_call(world: World, alice: Device, bob: Device) -> None:
    first = await ring(bob, alice)
    view = await alice.call_user('bob')
    assert view.id == first
    assert (view.state, view.here) == (CallState.CONNECTING, True)
    assert seen(bob, first).state == CallState.CONNECTING


@pytest.mark.parametrize('first_caller', ['alice', 'bob'])
async def test_glare_keeps_the_call_that_reached_the_server_first(world: World, first_caller: str) -> None:
    alice, bob = await world.tab('alice'), await world.tab('bob')
    early, late = (alice, bob) if first_caller == 'alice' else (bob, alice)
    first = await ring(early, late)
    await late.call_user(early.user)
    (survivor,) = world.live_calls()
    assert (survivor.id, survivor.caller) == (first, first_caller)


async def test_glare_leaves_nobody_ringing(world: World, alice: Device, bob: Device) -> None:
    first = await ring(bob, alice)
    await alice.call_user('bob')
    assert not seen(alice, first).ringing_here
    assert not seen(bob, first).ringing_here
    assert all(call.state != CallState.RINGING for call in world.live_calls())


async def test_glare_creates_no_second_call_record(world: World, alice: Device, bob: Device) -> None:
    await ring(bob, alice)
    await alice.call_user('bob')
    assert len(world.recorder.created) == 1
    assert world.recorder.finished == []


async def test_glare_from_a_tab_that_was_not_ringing_answers_there(world: World, alice: Device, bob: Device) -> None:
    first = await ring(bob, alice)
    late_tab = await world.tab('alice')  # opened after the call started ringing: no leg yet
    view = await late_tab.call_user('bob')
    assert (view.id, view.here, view.state) == (first, True, CallState.CONNECTING)
    assert seen(alice, first).answered_elsewhere


async def test_after_glare_the_call_completes_normally(world: World, alice: Device, bob: Device) -> None:
    first = await ring(bob, alice)
    await alice.call_user('bob')
    for device in (alice, bob):
        await device.signal({'kind': 'media_up', 'call_id': first})
    assert seen(bob, first).state == CallState.ACTIVE
    await alice.hang_up(first)
    assert seen(bob, first).end_reason == EndReason.COMPLETED


async def test_calling_back_after_the_call_was_answered_is_not_glare(world: World, alice: Device, bob: Device) -> None:
    from voiceconnect.calls.machine import CallError

    await answer(bob, alice)
    with pytest.raises(CallError):
        await alice.call_user('bob')
    assert len(world.live_calls()) == 1


async def test_calling_a_user_in_a_call_whose_tabs_are_reconnecting_is_busy(
    world: World, alice: Device, bob: Device, carol: Device
) -> None:
    await talk(alice, bob)
    await bob.set_connected(False)  # a network blip, well within the grace period
    assert (await carol.call_user('bob')).end_reason == EndReason.BUSY
