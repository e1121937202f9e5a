"""Every transition of the call state machine, as both people's tabs see it."""

import pytest

from voiceconnect.calls.machine import CallError, CallState, EndReason
from voiceconnect.connections.device import Device

from .helpers import MEDIA_TIMEOUT_S, RING_TIMEOUT_S, World, answer, media_up, ring, seen, tab_of, talk


async def test_placing_a_call_shows_calling_to_the_caller(alice: Device, bob: Device) -> None:
    view = await alice.call_user('bob')
    assert (view.state, view.role, view.peer, view.here) == (CallState.RINGING, 'caller', 'bob', True)
    assert seen(alice, view.id).state == CallState.RINGING


async def test_placing_a_call_rings_the_callee(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    view = seen(bob, call_id)
    assert view.ringing_here
    assert (view.role, view.peer) == ('callee', 'alice')


async def test_accept_moves_the_call_to_connecting_for_both(alice: Device, bob: Device) -> None:
    call_id = await answer(alice, bob)
    assert seen(alice, call_id).state == CallState.CONNECTING
    assert seen(bob, call_id).state == CallState.CONNECTING
    assert not seen(bob, call_id).ringing_here


async def test_answer_time_is_taken_from_the_clock(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await world.clock.advance(7)
    await bob.accept(call_id)
    assert seen(alice, call_id).answered_at == world.clock.now()


async def test_media_from_one_side_only_keeps_the_call_connecting(alice: Device, bob: Device) -> None:
    call_id = await answer(alice, bob)
    await media_up(alice, call_id)
    assert alice.call is not None
    assert alice.call.state == CallState.CONNECTING


async def test_media_up_from_both_sides_makes_the_call_active(alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    assert seen(alice, call_id).state == CallState.ACTIVE
    assert seen(bob, call_id).state == CallState.ACTIVE


@pytest.mark.parametrize('who', ['alice', 'bob'])
async def test_hang_up_by_either_side_completes_the_call_for_both(alice: Device, bob: Device, who: str) -> None:
    call_id = await talk(alice, bob)
    await (alice if who == 'alice' else bob).hang_up(call_id)
    for device in (alice, bob):
        view = seen(device, call_id)
        assert (view.state, view.end_reason) == (CallState.ENDED, EndReason.COMPLETED)
        assert view.ended_by_me == (device.user == who)


async def test_duration_counts_from_the_answer_not_from_the_ring(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await world.clock.advance(5)  # ringing time is not talk time
    await bob.accept(call_id)
    await media_up(alice, call_id)
    await media_up(bob, call_id)
    await world.clock.advance(12)
    await bob.hang_up(call_id)
    assert seen(alice, call_id).duration(world.clock.now()) == 12
    assert seen(bob, call_id).duration(world.clock.now()) == 12


async def test_hang_up_while_connecting_completes_the_call(alice: Device, bob: Device) -> None:
    call_id = await answer(alice, bob)
    await alice.hang_up(call_id)
    assert seen(bob, call_id).end_reason == EndReason.COMPLETED


async def test_decline_ends_the_call_declined_for_both(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await bob.decline(call_id)
    assert (seen(alice, call_id).state, seen(alice, call_id).end_reason) == (CallState.ENDED, EndReason.DECLINED)
    assert not seen(alice, call_id).ended_by_me
    assert seen(bob, call_id).ended_by_me
    assert seen(alice, call_id).duration(0) == 0


async def test_caller_hanging_up_while_ringing_cancels_the_call(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await alice.hang_up(call_id)
    assert seen(alice, call_id).end_reason == EndReason.CANCELLED


async def test_cancelled_call_stops_ringing_on_the_callees_tab(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await alice.hang_up(call_id)
    view = seen(bob, call_id)
    assert (view.state, view.end_reason, view.ringing_here) == (CallState.ENDED, EndReason.CANCELLED, False)


async def test_call_still_rings_just_before_the_ring_timeout(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await world.clock.advance(RING_TIMEOUT_S - 0.1)
    assert seen(bob, call_id).ringing_here


async def test_unanswered_call_is_missed_after_the_ring_timeout(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await world.clock.advance(RING_TIMEOUT_S + 0.1)
    for device in (alice, bob):
        assert (seen(device, call_id).state, seen(device, call_id).end_reason) == (CallState.ENDED, EndReason.MISSED)
    assert not seen(bob, call_id).ringing_here


async def test_ring_timeout_does_not_end_an_answered_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await world.clock.advance(RING_TIMEOUT_S * 3)
    assert alice.call is not None
    assert alice.call.id == call_id
    assert alice.call.state == CallState.ACTIVE


async def test_answered_call_without_media_fails_after_the_media_timeout(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await answer(alice, bob)
    await world.clock.advance(MEDIA_TIMEOUT_S - 0.1)
    assert seen(alice, call_id).state == CallState.CONNECTING
    await world.clock.advance(0.2)
    for device in (alice, bob):
        assert (seen(device, call_id).state, seen(device, call_id).end_reason) == (CallState.ENDED, EndReason.FAILED)


async def test_media_from_one_side_only_still_fails_after_the_media_timeout(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await answer(alice, bob)
    await media_up(bob, call_id)
    await world.clock.advance(MEDIA_TIMEOUT_S + 1)
    assert seen(alice, call_id).end_reason == EndReason.FAILED


async def test_media_timeout_does_not_end_an_active_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await world.clock.advance(MEDIA_TIMEOUT_S * 3)
    assert alice.call is not None
    assert alice.call.id == call_id


async def test_media_failed_ends_the_call_failed_with_the_reason_in_words(alice: Device, bob: Device) -> None:
    call_id = await answer(alice, bob)
    await bob.signal({'kind': 'media_failed', 'call_id': call_id, 'reason': 'mic_refused'})
    for device in (alice, bob):
        view = seen(device, call_id)
        assert (view.state, view.end_reason) == (CallState.ENDED, EndReason.FAILED)
        assert view.failure == 'bob: Microphone access was refused.'


async def test_user_gone_ends_their_call_with_connection_lost(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await world.calls.user_gone('bob')
    assert seen(alice, call_id).end_reason == EndReason.CONNECTION_LOST


async def test_grace_expiry_ends_the_call_with_connection_lost(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await bob.set_connected(False)
    await world.clock.advance(30)
    assert seen(alice, call_id).end_reason == EndReason.CONNECTION_LOST


async def test_a_short_disconnect_keeps_the_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await bob.set_connected(False)
    await world.clock.advance(10)
    await bob.set_connected(True)
    await world.clock.advance(60)
    assert alice.call is not None
    assert alice.call.id == call_id


async def test_server_shutdown_ends_every_call_with_server_restart(world: World, alice: Device, bob: Device) -> None:
    carol, dave = await world.tab('carol'), await world.tab('dave')
    talking, ringing = await talk(alice, bob), await ring(carol, dave)
    await world.board.shutdown()
    assert seen(alice, talking).end_reason == EndReason.SERVER_RESTART
    assert seen(dave, ringing).end_reason == EndReason.SERVER_RESTART
    assert world.live_calls() == []


async def test_end_all_ends_calls_with_the_given_reason(world: World, alice: Device, bob: Device) -> None:
    call_id = await answer(alice, bob)
    await world.calls.end_all(EndReason.SERVER_RESTART)
    assert seen(bob, call_id).end_reason == EndReason.SERVER_RESTART


async def test_an_ended_call_is_no_longer_anyones_call(alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await alice.hang_up(call_id)
    assert alice.call is None
    assert bob.call is None


async def test_after_a_call_ends_the_same_people_can_call_again(alice: Device, bob: Device) -> None:
    first = await talk(alice, bob)
    await bob.hang_up(first)
    second = await ring(bob, alice)
    assert second != first
    assert seen(alice, second).ringing_here


async def test_the_call_page_view_follows_the_live_call(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    assert bob.call is not None
    assert (bob.call.id, bob.call.ringing_here) == (call_id, True)
    await bob.accept(call_id)
    assert bob.call.state == CallState.CONNECTING


async def test_you_cannot_call_yourself(world: World, alice: Device) -> None:
    with pytest.raises(CallError, match='yourself'):
        await alice.call_user('alice')


async def test_calling_someone_offline_ends_at_once_as_offline_and_is_recorded(world: World, alice: Device) -> None:
    view = await alice.call_user('zoe')
    assert (view.state, view.end_reason, view.peer) == (CallState.ENDED, EndReason.OFFLINE, 'zoe')
    assert [(c.callee, c.end_reason) for c in world.recorder.finished] == [('zoe', EndReason.OFFLINE)]
    assert alice.call is None


async def test_you_cannot_place_a_second_call_while_in_one(world: World, alice: Device, bob: Device) -> None:
    carol = await world.tab('carol')
    await talk(alice, bob)
    with pytest.raises(CallError, match='Hang up'):
        await alice.call_user('carol')
    assert carol.call is None


async def test_mute_is_shown_to_the_peer(alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await alice.set_muted(call_id, True)
    assert seen(bob, call_id).peer_muted
    assert seen(alice, call_id).me_muted
    await alice.set_muted(call_id, False)
    assert not seen(bob, call_id).peer_muted


async def test_muting_twice_sends_no_second_update(alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await alice.set_muted(call_id, True)
    before = len(tab_of(bob).events)
    await alice.set_muted(call_id, True)
    assert len(tab_of(bob).events) == before


async def test_every_call_is_recorded_once_created_and_once_finished(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await alice.hang_up(call_id)
    assert [c.id for c in world.recorder.created] == [call_id]
    assert [(c.id, c.end_reason) for c in world.recorder.finished] == [(call_id, EndReason.COMPLETED)]


async def test_the_ring_timer_is_cancelled_when_a_call_ends(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await bob.decline(call_id)
    await world.clock.advance(RING_TIMEOUT_S * 2)
    assert [c.end_reason for c in world.recorder.finished] == [EndReason.DECLINED]
