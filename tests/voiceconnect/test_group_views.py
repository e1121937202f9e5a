"""What a browser tab is shown of a group call: the invitation ringing that tab, an invitation that ended unanswered
counted as a missed call, and the caller-callee leg gone once one of its ends left a call that goes on."""

from voiceconnect.calls.machine import CallState

from . import test_group_calls
from .test_group_calls import RING_S, Place, eventually, group_of_three, seen, states, talking

# the same fixtures: each case runs over both call stores (in memory, and a real redis-server)
make_place = test_group_calls.make_place
place = test_group_calls.place


async def test_the_invitees_tabs_ring_for_the_invitation_and_only_theirs(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    assert seen(carol, call_id).rings_here
    assert not seen(alice, call_id).rings_here and not seen(bob, call_id).rings_here
    await carol.accept(call_id)
    assert not seen(carol, call_id).rings_here


async def test_an_invitation_that_rang_out_is_a_missed_call_while_the_call_goes_on(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    assert not seen(carol, call_id).missed  # still ringing
    await eventually(lambda: states(seen(alice, call_id))['carol'] == 'left', 'the invitation missed', RING_S + 3)
    assert seen(carol, call_id).missed
    assert seen(alice, call_id).state == CallState.ACTIVE and not seen(bob, call_id).missed


async def test_an_invitation_cancelled_by_the_end_of_the_call_is_a_missed_call(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    await bob.hang_up(call_id)  # two were joined: the call ends, carol's invitation with it
    view = seen(carol, call_id)
    assert view.state == CallState.ENDED and view.missed


async def test_a_declined_or_answered_invitation_is_not_missed(place: Place) -> None:
    alice, bob, carol, dave = await place.people('alice', 'bob', 'carol', 'dave')
    call_id = await group_of_three(alice, bob, carol)
    await alice.add_person(call_id, 'dave')
    await dave.decline(call_id)
    await carol.hang_up(call_id)
    assert not seen(dave, call_id).missed and not seen(carol, call_id).missed


async def test_the_leg_is_gone_from_the_views_once_the_first_callee_left(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    assert seen(alice, call_id).leg is not None and seen(bob, call_id).leg is not None
    await bob.hang_up(call_id)
    view = seen(alice, call_id)
    assert view.state == CallState.ACTIVE and view.leg is None and view.here
    assert [link.peer for link in view.links] == ['carol']  # the voice goes over the links


async def test_the_leg_is_gone_from_the_views_once_the_caller_left(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    await alice.hang_up(call_id)
    view = seen(bob, call_id)
    assert view.state == CallState.ACTIVE and view.leg is None and view.here
    assert [link.peer for link in view.links] == ['carol']
