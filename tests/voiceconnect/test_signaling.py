"""Signaling relay: each tab's offer, answer and candidates reach exactly the right peer tab, and nothing else."""

import pytest

from voiceconnect.calls.signals import MAX_SDP
from voiceconnect.connections.device import Device

from .helpers import CANDIDATE, SDP, World, answer_signal, candidate, leg_of, offer, ring, tab_of

ALLOWED_KEYS = {'call_id', 'leg', 'kind', 'sdp', 'candidate', 'sdp_mid', 'sdp_mline_index'}


@pytest.fixture
async def bob2(world: World, bob: Device) -> Device:
    return await world.tab('bob')


async def test_callee_offer_reaches_the_caller_tab_with_the_callees_leg(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    leg = leg_of(bob, call_id)
    await bob.signal(offer(call_id, leg, 'v=0 bob'))
    assert tab_of(alice).relayed == [{'call_id': call_id, 'kind': 'offer', 'leg': leg, 'sdp': 'v=0 bob'}]


async def test_offers_from_two_callee_tabs_reach_the_caller_on_their_own_legs(
    alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    await bob.signal(offer(call_id, leg_of(bob, call_id)))
    await bob2.signal(offer(call_id, leg_of(bob2, call_id)))
    assert [m['leg'] for m in tab_of(alice).relayed] == [leg_of(bob, call_id), leg_of(bob2, call_id)]


async def test_caller_answer_reaches_only_the_tab_of_that_leg(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    leg2 = leg_of(bob2, call_id)
    await alice.signal(answer_signal(call_id, leg2, 'v=0 alice'))
    assert tab_of(bob2).relayed == [{'call_id': call_id, 'kind': 'answer', 'leg': leg2, 'sdp': 'v=0 alice'}]
    assert tab_of(bob).relayed == []


async def test_caller_candidates_reach_the_callee_tab(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    leg = leg_of(bob, call_id)
    await alice.signal(candidate(call_id, leg))
    (message,) = tab_of(bob).relayed
    assert (message['kind'], message['leg'], message['candidate']) == ('candidate', leg, CANDIDATE)
    assert (message['sdp_mid'], message['sdp_mline_index']) == ('0', 0)


async def test_callee_candidates_reach_the_caller_tab(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    leg = leg_of(bob, call_id)
    await bob.signal(candidate(call_id, leg))
    (message,) = tab_of(alice).relayed
    assert (message['kind'], message['leg'], message['candidate']) == ('candidate', leg, CANDIDATE)


async def test_nothing_is_relayed_back_to_the_sender(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await bob.signal(offer(call_id, leg_of(bob, call_id)))
    await alice.signal(answer_signal(call_id, leg_of(bob, call_id)))
    assert [m['kind'] for m in tab_of(bob).relayed] == ['answer']
    assert [m['kind'] for m in tab_of(alice).relayed] == ['offer']


async def test_the_callers_other_tab_hears_no_signaling(world: World, alice: Device, bob: Device) -> None:
    alice2 = await world.tab('alice')
    call_id = await ring(alice, bob)
    await bob.signal(offer(call_id, leg_of(bob, call_id)))
    assert tab_of(alice2).relayed == []


async def test_negotiation_continues_on_the_answered_leg(alice: Device, bob: Device, bob2: Device) -> None:
    call_id = await ring(alice, bob)
    await bob2.accept(call_id)
    leg2 = leg_of(bob2, call_id)
    await bob2.signal(offer(call_id, leg2))  # e.g. an ICE restart mid-call
    await alice.signal(answer_signal(call_id, leg2))
    assert [m['kind'] for m in tab_of(alice).relayed] == ['offer']
    assert [m['kind'] for m in tab_of(bob2).relayed] == ['answer']


async def test_a_large_sdp_is_relayed_unchanged(alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    sdp = SDP * (MAX_SDP // len(SDP))  # as large as allowed
    await bob.signal(offer(call_id, leg_of(bob, call_id), sdp))
    assert tab_of(alice).relayed[0]['sdp'] == sdp


async def test_relayed_messages_carry_only_call_leg_kind_and_payload(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    leg = leg_of(bob, call_id)
    await bob.signal(offer(call_id, leg))
    await bob.signal(candidate(call_id, leg))
    await alice.signal(answer_signal(call_id, leg))
    await alice.signal(candidate(call_id, leg))
    messages = tab_of(alice).relayed + tab_of(bob).relayed
    assert len(messages) == 4
    secrets = {
        alice.id,
        bob.id,
        world.service_of(alice).token,
        world.service_of(bob).token,
        world.service_of(alice).browser,
        world.service_of(bob).browser,
    }
    for message in messages:
        assert set(message) <= ALLOWED_KEYS
        assert not secrets & {str(value) for value in message.values()}
        assert not any(secret in repr(message) for secret in secrets)


async def test_call_views_reveal_no_device_ids_or_tokens(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    secrets = [alice.id, bob.id, world.service_of(alice).token, world.service_of(bob).token]
    for device in (alice, bob):
        for view in tab_of(device).views:
            assert not any(secret in repr(view) for secret in secrets)
