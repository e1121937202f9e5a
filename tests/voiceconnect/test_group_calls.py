"""Group calls, one contract for both call stores: the in-memory one (one process) and the Redis one (a real
redis-server started by the test run). What a group call promises its people: an answered call takes more people
(each invitation checked as a call to them is), each member rings, joins and leaves on their own, the call goes
on while two remain joined, the mesh's links connect exactly the joined members' tabs, and 1:1 stays 1:1."""

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from voiceconnect.calls.machine import (
    LEAVE_REASONS,
    MEMBER_TRANSITIONS,
    Call,
    CallError,
    CallState,
    EndReason,
    IllegalTransition,
    LeaveReason,
    MemberState,
    Refusal,
    check_member_transition,
)
from voiceconnect.calls.views import CallView
from voiceconnect.clock import LoopClock
from voiceconnect.cluster.switchboard import shared_switchboard
from voiceconnect.connections.device import Device
from voiceconnect.connections.memory_hub import InMemoryHub
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.ratelimit import Limits
from voiceconnect.settings import Timeouts

from .helpers import SDP, FakeRecorder, FakeTab, answer_signal, candidate, log_lines, media_up, offer, tab_of

RING_S = 1.0
TIMEOUTS = Timeouts(ring_timeout_s=RING_S, reconnect_grace_s=5, media_timeout_s=5)
LIMITS = Limits(calls_per_minute=1000)


@dataclass
class Place:
    """One process's core (a switchboard on a real clock) over one of the two stores."""

    board: Switchboard
    recorder: FakeRecorder
    redis: Redis | None = None
    _ids: 'itertools.count[int]' = field(default_factory=itertools.count)

    async def tab(self, user: str, browser: str | None = None) -> Device:
        browser = browser or f'{user}-browser'
        service = await self.board.service_for(browser, user, f'token-{user}-{browser}')
        return await self.board.attach(service, f'{user}-tab{next(self._ids)}', FakeTab())

    async def people(self, *names: str) -> list[Device]:
        return [await self.tab(name) for name in names]

    def finished(self, call_id: str) -> Call:
        return next(call for call in self.recorder.finished if call.id == call_id)


MakePlace = Callable[..., Awaitable[Place]]


@pytest.fixture(params=['memory', 'redis'])
async def make_place(request: pytest.FixtureRequest) -> AsyncIterator[MakePlace]:
    made: list[Place] = []

    async def make(limits: Limits = LIMITS) -> Place:
        """A process; with Redis, every one made in a test shares the same Redis (several processes)."""
        recorder = FakeRecorder()
        if request.param == 'memory':
            place = Place(Switchboard(LoopClock(), InMemoryHub(), recorder, TIMEOUTS, limits), recorder)
        else:
            redis = Redis.from_url(request.getfixturevalue('redis_url'))
            name = f'process-{len(made)}'
            place = Place(shared_switchboard(redis, name, LoopClock(), recorder, TIMEOUTS, limits), recorder, redis)
        await place.board.hub.start()
        place.board.calls.store.start()
        made.append(place)
        return place

    yield make
    for place in made:
        await place.board.calls.store.stop()
        await place.board.hub.stop()
        if place.redis is not None:
            await place.redis.aclose()


@pytest.fixture
async def place(make_place: MakePlace) -> Place:
    return await make_place()


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f'not so within {timeout} s: {what}')
        await asyncio.sleep(0.01)


def seen(device: Device, call_id: str) -> CallView:
    return tab_of(device).last_view(call_id)


def states(view: CallView) -> dict[str, MemberState]:
    return {m.name: m.state for m in view.members}


async def talking(caller: Device, callee: Device) -> str:
    call_id = (await caller.call_user(callee.user)).id
    await callee.accept(call_id)
    await media_up(caller, call_id)
    await media_up(callee, call_id)
    return call_id


async def group_of_three(alice: Device, bob: Device, carol: Device) -> str:
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    await carol.accept(call_id)
    return call_id


# the member machine, as tables


def test_member_states_and_leave_reasons_are_tables() -> None:
    assert MEMBER_TRANSITIONS[MemberState.LEFT] == frozenset()
    assert LeaveReason.DECLINED in LEAVE_REASONS[MemberState.RINGING]
    assert LeaveReason.DECLINED not in LEAVE_REASONS[MemberState.JOINED]  # one who joined hangs up, never declines
    assert LeaveReason.REMOVED in LEAVE_REASONS[MemberState.JOINED]
    check_member_transition(MemberState.RINGING, MemberState.LEFT, LeaveReason.MISSED)
    with pytest.raises(IllegalTransition):
        check_member_transition(MemberState.JOINED, MemberState.LEFT, LeaveReason.MISSED)
    with pytest.raises(IllegalTransition):
        check_member_transition(MemberState.LEFT, MemberState.JOINED)


# inviting and joining


async def test_an_invitation_rings_the_invitees_tabs_naming_the_inviter_and_the_others(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    carol2 = await place.tab('carol')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    for tab in (carol, carol2):
        view = seen(tab, call_id)
        assert view.invited and view.inviter == 'alice' and view.others == ('bob',)
        assert not view.here and not view.answered_elsewhere
    assert states(seen(bob, call_id)) == {'alice': 'joined', 'bob': 'joined', 'carol': 'ringing'}


async def test_accepting_joins_on_that_tab_with_a_link_to_each_member_the_newcomer_offering(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    carol2 = await place.tab('carol')
    call_id = await group_of_three(alice, bob, carol)
    mine = seen(carol, call_id)
    assert mine.here and mine.my_state == MemberState.JOINED
    assert sorted((link.peer, link.role) for link in mine.links) == [('alice', 'offer'), ('bob', 'offer')]
    assert [(link.peer, link.role) for link in seen(alice, call_id).links] == [('carol', 'answer')]
    assert [(link.peer, link.role) for link in seen(bob, call_id).links] == [('carol', 'answer')]
    assert seen(carol2, call_id).answered_elsewhere and not seen(carol2, call_id).here
    assert states(seen(alice, call_id)) == {'alice': 'joined', 'bob': 'joined', 'carol': 'joined'}


async def test_join_and_leave_lines_name_the_call(place: Place, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level('INFO', logger='voiceconnect')
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    await carol.hang_up(call_id)
    lines = log_lines(caplog)
    assert '👥 Joined: carol (alice → bob +1)' in lines
    assert any(line.startswith('👥 Left: carol') for line in lines)
    assert not any(line.startswith('📴 Call ended') for line in lines)  # the call goes on
    joined = next(r for r in caplog.records if r.getMessage().startswith('👥 Joined'))
    fields = {name: getattr(joined, name) for name in ('user', 'peer', 'call_id', 'member', 'outcome')}
    assert fields == {'user': 'alice', 'peer': 'bob', 'call_id': call_id, 'member': 'carol', 'outcome': 'joined'}


async def test_a_member_who_hangs_up_leaves_and_the_call_goes_on_while_two_remain(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    await alice.hang_up(call_id)  # the host leaves: bob and carol go on
    view = seen(bob, call_id)
    assert view.live and states(view)['alice'] == 'left'
    assert [link.peer for link in view.links] == ['carol']  # the link to alice went with her
    assert not seen(alice, call_id).here
    assert place.board.calls.live_call_of('alice') is None  # free to call someone else
    await bob.hang_up(call_id)  # the last two: the call ends, as 1:1
    assert seen(carol, call_id).state == CallState.ENDED
    assert seen(carol, call_id).end_reason == EndReason.COMPLETED
    members = place.finished(call_id).members
    assert {u: (m.state, m.left_reason) for u, m in members.items()} == {
        'alice': (MemberState.LEFT, LeaveReason.HUNG_UP),
        'bob': (MemberState.LEFT, LeaveReason.HUNG_UP),
        'carol': (MemberState.LEFT, LeaveReason.CALL_ENDED),
    }


async def test_who_left_a_group_call_can_call_someone_else_and_is_shown_in_a_call_again(place: Place) -> None:
    alice, bob, carol, dave = await place.people('alice', 'bob', 'carol', 'dave')
    call_id = await group_of_three(alice, bob, carol)
    await carol.hang_up(call_id)
    other = await carol.call_user('dave')
    assert other.state == CallState.RINGING
    await eventually(lambda: 'carol' in {u.name for u in dave.online_users() if u.in_call}, 'carol shown in a call')
    await alice.set_muted(call_id, True)  # news of the call she left must not show her free again
    await asyncio.sleep(0.3)
    assert 'carol' in {u.name for u in dave.online_users() if u.in_call}
    assert seen(alice, call_id).live


async def test_the_last_two_are_an_ordinary_call(place: Place, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level('INFO', logger='voiceconnect')
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    await bob.hang_up(call_id)
    await carol.hang_up(call_id)
    assert seen(alice, call_id).state == CallState.ENDED
    assert any(line.startswith('📴 Call ended') and '(alice → bob, completed)' in line for line in log_lines(caplog))


# refusals


async def test_add_refuses_yourself_someone_in_the_call_and_a_call_not_answered(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    ringing = (await alice.call_user('bob')).id
    with pytest.raises(CallError) as refused:
        await alice.add_person(ringing, 'carol')
    assert refused.value.code == Refusal.NOT_ANSWERED
    await bob.accept(ringing)
    for name, code in (('alice', Refusal.YOURSELF), ('bob', Refusal.ALREADY_IN_CALL)):
        with pytest.raises(CallError) as refused:
            await alice.add_person(ringing, name)
        assert refused.value.code == code
    await bob.add_person(ringing, 'carol')  # any joined member may invite
    with pytest.raises(CallError) as refused:
        await alice.add_person(ringing, 'carol')  # the second invitation of the same person: one survives
    assert refused.value.code == Refusal.ALREADY_IN_CALL
    assert states(seen(carol, ringing))['carol'] == 'ringing'


async def test_a_stranger_can_neither_add_nor_remove_nor_accept_for_others(place: Place) -> None:
    alice, bob, carol, mallory = await place.people('alice', 'bob', 'carol', 'mallory')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    for action in (
        lambda: mallory.add_person(call_id, 'dave'),
        lambda: mallory.remove_person(call_id, 'bob'),
        lambda: mallory.accept(call_id),
        lambda: mallory.decline(call_id),
    ):
        with pytest.raises(CallError, match='No such call'):
            await action()
    with pytest.raises(CallError) as refused:
        await bob.remove_person(call_id, 'alice')  # only the host removes
    assert refused.value.code == Refusal.NOT_HOST
    with pytest.raises(CallError):
        await carol.add_person(call_id, 'mallory')  # ringing, not joined: cannot invite yet
    assert states(seen(alice, call_id)) == {'alice': 'joined', 'bob': 'joined', 'carol': 'ringing'}


async def test_a_call_is_full_at_mesh_max_without_a_bridge(make_place: MakePlace) -> None:
    place = await make_place(Limits(calls_per_minute=1000, mesh_max=3, group_max=8))
    alice, bob, _carol, dave = await place.people('alice', 'bob', 'carol', 'dave')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')  # ringing counts: three people in it
    with pytest.raises(CallError) as refused:
        await alice.add_person(call_id, 'dave')
    assert refused.value.code == Refusal.CALL_FULL
    assert not tab_of(dave).views_of(call_id)  # nothing rang


async def test_busy_offline_and_not_taking_calls_end_the_invitation_at_once(place: Place) -> None:
    alice, bob, carol, dave = await place.people('alice', 'bob', 'carol', 'dave')
    call_id = await talking(alice, bob)
    await talking(carol, dave)
    view = await alice.add_person(call_id, 'carol')
    assert states(view)['carol'] == 'left'
    members = place.board.calls.get(call_id)
    assert members is not None and members.members['carol'].left_reason == LeaveReason.BUSY
    view = await alice.add_person(call_id, 'erin')  # nobody is online as erin (no directory: anyone may exist)
    live = place.board.calls.get(call_id)
    assert live is not None and live.members['erin'].left_reason == LeaveReason.OFFLINE
    assert view.live and states(view)['erin'] == 'left'


async def test_an_invitation_counts_as_a_call_attempt(make_place: MakePlace) -> None:
    place = await make_place(Limits(calls_per_minute=2))
    alice, bob, _carol, _dave = await place.people('alice', 'bob', 'carol', 'dave')
    call_id = await talking(alice, bob)  # attempt 1
    await alice.add_person(call_id, 'carol')  # attempt 2
    with pytest.raises(CallError) as refused:
        await alice.add_person(call_id, 'dave')
    assert refused.value.code == Refusal.RATE_LIMITED


# each invitation's own outcome


async def test_declining_an_invitation_leaves_the_call_as_it_was(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    await carol.decline(call_id)
    view = seen(alice, call_id)
    assert view.state == CallState.ACTIVE and states(view)['carol'] == 'left'
    assert place.board.calls.live_call_of('carol') is None


async def test_an_unanswered_invitation_is_missed_after_the_ring_timeout(place: Place) -> None:
    alice, bob, _carol = await place.people('alice', 'bob', 'carol')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    await eventually(lambda: states(seen(alice, call_id))['carol'] == 'left', 'the invitation missed', RING_S + 3)
    live = place.board.calls.get(call_id)
    assert live is not None and live.members['carol'].left_reason == LeaveReason.MISSED
    assert seen(alice, call_id).state == CallState.ACTIVE  # the call itself carries on


async def test_the_host_removes_a_member_and_cancels_an_invitation(place: Place) -> None:
    alice, bob, carol, _dave = await place.people('alice', 'bob', 'carol', 'dave')
    call_id = await group_of_three(alice, bob, carol)
    await alice.add_person(call_id, 'dave')
    await alice.remove_person(call_id, 'dave')
    await alice.remove_person(call_id, 'carol')
    live = place.board.calls.get(call_id)
    assert live is not None
    assert live.members['dave'].left_reason == LeaveReason.CANCELLED
    assert live.members['carol'].left_reason == LeaveReason.REMOVED
    assert not seen(carol, call_id).here and seen(alice, call_id).live


async def test_invited_and_calling_someone_in_the_call_joins_it(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    view = await carol.call_user('bob')  # glare per invitation: her click joins, nothing new rings
    assert view.id == call_id and view.here
    assert states(seen(bob, call_id))['carol'] == 'joined'


async def test_someone_left_can_be_added_again(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    await carol.hang_up(call_id)
    await bob.add_person(call_id, 'carol')
    await carol.accept(call_id)
    await alice.hang_up(call_id)
    await bob.hang_up(call_id)
    finished = place.finished(call_id)
    assert [m.left_reason for m in finished.former] == [LeaveReason.HUNG_UP]  # her first stint is kept
    assert finished.members['carol'].invited_by == 'bob'


async def test_two_members_inviting_the_same_person_at_once_ring_them_once(
    make_place: MakePlace, request: pytest.FixtureRequest
) -> None:
    """With Redis, alice and bob are on two processes and press Add together: one invitation, one refusal."""
    one = await make_place()
    other = await make_place() if 'redis' in request.node.name else one
    alice, carol = await one.people('alice', 'carol')
    bob = await other.tab('bob')
    call_id = await talking(alice, bob)
    results = await asyncio.gather(
        alice.add_person(call_id, 'carol'), bob.add_person(call_id, 'carol'), return_exceptions=True
    )
    refusals = [r for r in results if isinstance(r, CallError)]
    assert len(refusals) == 1 and refusals[0].code == Refusal.ALREADY_IN_CALL, results
    await carol.accept(call_id)
    await eventually(lambda: states(seen(bob, call_id)).get('carol') == 'joined', 'bob sees carol joined')


# connections, per member


async def test_a_lost_member_leaves_and_the_others_go_on(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    await place.board.calls.device_gone('carol', carol.id)
    live = place.board.calls.get(call_id)
    assert live is not None and live.members['carol'].left_reason == LeaveReason.CONNECTION_LOST
    assert seen(alice, call_id).state == CallState.ACTIVE


async def test_a_members_microphone_failing_takes_only_them_out(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    await carol.signal({'kind': 'media_failed', 'call_id': call_id, 'reason': 'mic_refused'})
    live = place.board.calls.get(call_id)
    assert live is not None and live.members['carol'].left_reason == LeaveReason.FAILED
    assert seen(bob, call_id).failure is None


async def test_a_reloaded_member_gets_fresh_links_and_the_others_are_told(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    before = {link.id for link in seen(alice, call_id).links}
    carol_new = await place.tab('carol')
    await place.board.calls.move_device('carol', carol.id, carol_new.id)
    after = seen(alice, call_id).links
    assert len(after) == 1 and after[0].peer == 'carol' and after[0].id not in before
    mine = seen(carol_new, call_id)
    assert mine.here and sorted(link.peer for link in mine.links) == ['alice', 'bob']


async def test_someone_added_again_who_reloads_gets_fresh_links(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    await alice.hang_up(call_id)  # the caller leaves and comes back on another tab
    alice2 = await place.tab('alice')
    await bob.add_person(call_id, 'alice')
    await alice2.accept(call_id)
    before = {link.id for link in seen(bob, call_id).links}
    alice3 = await place.tab('alice')
    await place.board.calls.move_device('alice', alice2.id, alice3.id)
    mine = seen(alice3, call_id)
    assert mine.here and sorted(link.peer for link in mine.links) == ['bob', 'carol']
    assert not {link.id for link in mine.links} & before


async def test_a_member_away_is_shown_reconnecting(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    await place.board.calls.set_away('carol', carol.id, True)
    carol_seen = next(m for m in seen(alice, call_id).members if m.name == 'carol')
    assert carol_seen.reconnecting and not carol_seen.host
    assert next(m for m in seen(carol, call_id).members if m.name == 'alice').host


# signaling on the mesh's links


async def test_link_offers_come_only_from_the_newcomer_and_reach_only_the_other_end(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    to_alice = next(link.id for link in seen(carol, call_id).links if link.peer == 'alice')
    tab_of(alice).relayed.clear()
    tab_of(bob).relayed.clear()
    await carol.signal(offer(call_id, to_alice, 'v=0 carol'))
    assert tab_of(alice).relayed == [
        {'call_id': call_id, 'kind': 'offer', 'leg': to_alice, 'link': to_alice, 'sdp': 'v=0 carol'}
    ]
    assert tab_of(bob).relayed == []
    await alice.signal(answer_signal(call_id, to_alice, 'v=0 alice'))
    await alice.signal(candidate(call_id, to_alice))
    assert [m['kind'] for m in tab_of(carol).relayed if m.get('link') == to_alice] == ['answer', 'candidate']
    for wrong in (
        lambda: alice.signal(offer(call_id, to_alice)),  # the answerer never offers
        lambda: carol.signal(answer_signal(call_id, to_alice)),  # the offerer never answers
        lambda: bob.signal(candidate(call_id, to_alice)),  # not an end of that link
    ):
        with pytest.raises(Exception, match=r'sends the|not yours'):
            await wrong()
    assert tab_of(bob).relayed == []


# an invitee's ringing tabs connect while they ring (as a callee's tab does): Accept only opens the microphones


def links_of(view: CallView) -> list[tuple[str, str, bool]]:
    return sorted((link.peer, link.role, link.live) for link in view.links)


async def test_ringing_tabs_connect_to_each_member_silently_and_the_accepting_one_s_links_carry_voice(
    place: Place,
) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    carol2 = await place.tab('carol')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    for tab in (carol, carol2):
        assert links_of(seen(tab, call_id)) == [('alice', 'offer', False), ('bob', 'offer', False)]
    assert links_of(seen(alice, call_id)) == [('carol', 'answer', False)] * 2  # one per ringing tab, silent
    ringing_ids = {link.id for link in seen(carol, call_id).links}
    await carol.accept(call_id)
    assert {link.id for link in seen(carol, call_id).links} == ringing_ids  # the same peer connections
    assert links_of(seen(carol, call_id)) == [('alice', 'offer', True), ('bob', 'offer', True)]
    assert links_of(seen(alice, call_id)) == [('carol', 'answer', True)]
    assert seen(carol2, call_id).links == ()  # the other tab's rang for nothing: gone


async def test_a_ringing_tab_negotiates_its_links_but_is_no_party_of_the_call(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    to_alice = next(link.id for link in seen(carol, call_id).links if link.peer == 'alice')
    tab_of(alice).relayed.clear()
    await carol.signal(offer(call_id, to_alice, 'v=0 carol'))
    assert [m['sdp'] for m in tab_of(alice).relayed] == ['v=0 carol']
    await alice.signal(answer_signal(call_id, to_alice, 'v=0 alice'))
    assert [m['kind'] for m in tab_of(carol).relayed] == ['answer']
    with pytest.raises(CallError, match='not a party'):
        await media_up(carol, call_id)  # no voice of hers flows before she accepts
    with pytest.raises(CallError, match='not yours'):
        await bob.signal(candidate(call_id, to_alice))
    assert states(seen(alice, call_id))['carol'] == MemberState.RINGING


async def test_an_invitation_declined_or_cancelled_takes_its_links_with_it(place: Place) -> None:
    alice, bob, carol, dave = await place.people('alice', 'bob', 'carol', 'dave')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    await carol.decline(call_id)
    await alice.add_person(call_id, 'dave')
    assert links_of(seen(alice, call_id)) == [('dave', 'answer', False)]
    await alice.remove_person(call_id, 'dave')
    assert seen(alice, call_id).links == () and seen(bob, call_id).links == () and seen(dave, call_id).links == ()


async def test_a_ringing_tab_links_to_who_joins_meanwhile_and_drops_who_leaves(place: Place) -> None:
    alice, bob, carol, dave = await place.people('alice', 'bob', 'carol', 'dave')
    call_id = await talking(alice, bob)
    await alice.add_person(call_id, 'carol')
    await alice.add_person(call_id, 'dave')
    await carol.accept(call_id)
    silent = [('alice', 'offer', False), ('bob', 'offer', False), ('carol', 'offer', False)]
    assert links_of(seen(dave, call_id)) == silent
    await bob.hang_up(call_id)
    assert links_of(seen(dave, call_id)) == [('alice', 'offer', False), ('carol', 'offer', False)]
    await dave.accept(call_id)
    assert links_of(seen(carol, call_id)) == [('alice', 'offer', True), ('dave', 'answer', True)]


async def test_the_leg_to_someone_who_left_carries_nothing(place: Place) -> None:
    alice, bob, carol = await place.people('alice', 'bob', 'carol')
    call_id = await group_of_three(alice, bob, carol)
    leg = seen(alice, call_id).leg
    assert leg is not None
    await bob.hang_up(call_id)
    tab_of(bob).relayed.clear()
    with pytest.raises(Exception, match='Unknown leg'):
        await alice.signal(answer_signal(call_id, leg, SDP))
    assert tab_of(bob).relayed == []


# 1:1 stays 1:1


async def test_a_one_to_one_call_has_two_members_and_no_links(place: Place) -> None:
    alice, bob = await place.people('alice', 'bob')
    call_id = await talking(alice, bob)
    view = seen(alice, call_id)
    assert states(view) == {'alice': 'joined', 'bob': 'joined'} and view.links == ()
    await bob.hang_up(call_id)
    finished = place.finished(call_id)
    assert finished.end_reason == EndReason.COMPLETED
    assert finished.members['bob'].left_reason == LeaveReason.HUNG_UP
    assert finished.members['alice'].left_reason == LeaveReason.CALL_ENDED
