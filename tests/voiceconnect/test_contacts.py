"""Built-in contacts (the Sound test): listed for everyone, never busy (each caller rings a session of their own),
shown by the contact's name, and counted in the call-attempt limits like any call."""

import pytest

from voiceconnect.calls.machine import CallError, contact_session
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.ratelimit import Limits

from .helpers import FakeRecorder, World, make_board, tab_of

CONTACT = 'Sound test'


class FakeContact:
    """Attaches a tab of the caller's own session of the contact when dialled, as the Sound test does."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.sessions: dict[str, Device] = {}

    async def session_for(self, caller: str) -> str:
        user = contact_session(CONTACT, caller)
        if caller not in self.sessions:
            self.sessions[caller] = await self.world.tab(user)
        return user


@pytest.fixture
def contact(world: World) -> FakeContact:
    contact = FakeContact(world)
    world.board.contacts[CONTACT] = contact
    return contact


async def test_everyone_sees_the_contact_apart_from_the_people_online(contact: FakeContact, alice: Device) -> None:
    assert alice.built_in_contacts == (CONTACT,)
    assert CONTACT not in [user.name for user in alice.online_users()]


async def test_two_callers_at_once_each_ring_their_own_session(
    contact: FakeContact, alice: Device, bob: Device
) -> None:
    alice_call = await alice.call_user(CONTACT)
    bob_call = await bob.call_user(CONTACT)
    assert (alice_call.state, bob_call.state) == ('ringing', 'ringing')
    assert alice_call.peer == bob_call.peer == CONTACT
    assert tab_of(contact.sessions['alice']).last_view(alice_call.id).peer == 'alice'
    assert tab_of(contact.sessions['bob']).last_view(bob_call.id).peer == 'bob'


async def test_someone_elses_session_cannot_be_called(contact: FakeContact, alice: Device, bob: Device) -> None:
    await alice.call_user(CONTACT)
    await alice.hang_up(alice.call.id if alice.call else '')
    with pytest.raises(CallError, match='is not online'):
        await bob.call_user(contact_session(CONTACT, 'alice'))


async def test_calling_the_contact_counts_in_the_call_attempt_limit(clock: FakeClock, recorder: FakeRecorder) -> None:
    world = World(clock, recorder, make_board(clock, recorder, Limits(calls_per_minute=1)))
    world.board.contacts[CONTACT] = FakeContact(world)
    alice = await world.tab('alice')
    call = await alice.call_user(CONTACT)
    await alice.hang_up(call.id)
    with pytest.raises(CallError, match='calling too often'):
        await alice.call_user(CONTACT)
