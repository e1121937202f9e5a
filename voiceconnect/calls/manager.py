"""The call manager: the actions that move calls through the state machine (machine.py), each one atomic.

Every action is one step in the call store's transaction (store.py): it reads the calls it needs, checks that
the action is allowed (raising CallError with a message for the person if not), then changes them; every change
of state checks the machine's tables. What a change means outside the store (the outcome line in the log, the
call's row, the news to both people) is collected in an `Outcome` and applied once the step is committed, so a
step that a shared store runs again (another process changed the call meanwhile) logs, writes and tells once.
`_end` is the one place a call ends: it sets the reason, logs the outcome line, writes the row and tells both
sides.

The actions are coroutines: in one process they never wait for anything, but a store shared by several processes
does. Limits on how often someone may call are the caller's business (the device), not the machine's.

Group calls: once a call was answered a joined member may `add` someone (checked as a call to them is: busy,
offline, do not disturb), whose tabs ring until RING_TIMEOUT_S; a member who hangs up, fails or is lost leaves
and the call goes on while two remain joined; otherwise the call ends exactly as a 1:1 call does (the same
reasons and lines). `_member_leaves` is the one place that choice is made.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from .. import observe
from ..clock import Clock
from ..logs import call_fields
from .machine import (
    BRIDGE_DEVICE,
    BRIDGE_USER,
    RINGING_WHEN_CALL_ENDS,
    BridgeRoom,
    Call,
    CallError,
    CallState,
    EndReason,
    LeaveReason,
    Link,
    Member,
    MemberState,
    Refusal,
    check_member_transition,
    check_transition,
    new_id,
)
from .signals import MEDIA_FAILURES, MediaFailure
from .store import CallStore, CallTx, MemoryCallStore

log = logging.getLogger('voiceconnect')
T = TypeVar('T')
DEADLINE_SLACK_S = 0.01  # timers run on the loop's clock, deadlines are wall-clock time
BRIDGE_LOST = 'bridge_lost'  # why media failed when the bridge carrying it went away (in the log line)


class Delivery(Protocol):
    """Where the call manager's news goes, and which devices a call rings."""

    async def devices_of(self, user: str) -> list[str]: ...

    async def is_user(self, name: str) -> bool: ...

    def not_taking_calls(self, user: str) -> bool: ...

    def call_changed(self, call: Call) -> None: ...


class Rooms(Protocol):
    """The bridge that carries calls past MESH_MAX (voiceconnect/calls/bridging.py over Janus)."""

    async def reachable(self) -> bool:
        """Whether the bridge answers now (connecting to it if need be)."""
        ...

    def room_ended(self, room: BridgeRoom) -> None:
        """The call of `room` ended: destroy the room (in the background)."""
        ...


GroupMedia = Literal['auto', 'bridge', 'mesh']


class Recorder(Protocol):
    """Where every call that rang is written down (the call history)."""

    def call_created(self, call: Call) -> None: ...

    def call_answered(self, call: Call) -> None: ...

    def call_finished(self, call: Call) -> None: ...


@dataclass
class Outcome:
    """What a committed step means outside the store, in the order it happened."""

    effects: list[Callable[[], None]] = field(default_factory=list)

    def log(self, level: int, message: str, *args: Any, extra: dict[str, Any] | None = None) -> None:
        self.effects.append(lambda: log.log(level, message, *args, extra=extra))

    def then(self, effect: Callable[[], None]) -> None:
        self.effects.append(effect)

    def apply(self) -> None:
        for effect in self.effects:
            effect()


class CallManager:
    def __init__(
        self,
        delivery: Delivery,
        clock: Clock,
        recorder: Recorder,
        *,
        ring_timeout_s: float,
        media_timeout_s: float,
        store: CallStore | None = None,
        group_max: int = 8,
        mesh_max: int = 4,
        bridged: bool = False,
        rooms: Rooms | None = None,
        group_media: GroupMedia = 'auto',
    ) -> None:
        self.delivery = delivery
        self.clock = clock
        self.recorder = recorder
        self.ring_timeout_s = ring_timeout_s
        self.media_timeout_s = media_timeout_s
        # most people in one call: browsers hold a peer connection per other person, so without a bridge (Janus)
        # a call holds at most MESH_MAX. With `rooms` (GROUP_MEDIA auto) a call moves to the bridge when its people
        # (joined and ringing) would pass MESH_MAX, (GROUP_MEDIA bridge) as soon as it has a third person.
        self.rooms = rooms if group_media != 'mesh' else None
        bridged = bridged or self.rooms is not None
        self.capacity = group_max if bridged else min(group_max, mesh_max)
        self.mesh_capacity = min(group_max, mesh_max) if group_media == 'auto' else 2
        self.store: CallStore = store or MemoryCallStore(clock, self.deadline_passed)

    # queries (as this process last saw the calls: for pages that read them while they draw)

    def get(self, call_id: str) -> Call | None:
        return self.store.cached(call_id)

    def live_call_of(self, user: str) -> Call | None:
        return self.store.cached_of(user)

    @property
    def calls(self) -> dict[str, Call]:
        return self.store.live_calls()

    def users_in_calls(self) -> set[str]:
        return {user for call in self.calls.values() for user in call.present_users()}

    # actions (from the UI of one device)

    async def place_call(self, caller: str, caller_device: str, callee: str) -> Call:
        """Ring every device of `callee`. Returns the call; it is already ended (`busy`, `offline`, `do_not_disturb`)
        if nothing rang."""
        if caller == callee:
            raise CallError('You cannot call yourself.')

        async def step(tx: CallTx, out: Outcome) -> Call:
            if (own := await tx.of_user(caller)) is not None:
                if own.state == CallState.RINGING and own.caller == callee:
                    return await self._resolve_glare(tx, out, own, caller_device)
                if self._invites(own, caller, callee):  # invited by someone in it, calling one of them: join
                    return self._join_glare(tx, out, own, caller, caller_device)
                raise CallError('Hang up your current call first.', Refusal.IN_CALL)
            now = self.clock.now()
            call = Call(id=new_id('c'), caller=caller, callee=callee, caller_device=caller_device, created=now)
            call.members[caller] = Member(
                caller, MemberState.JOINED, invited_at=now, device=caller_device, joined_at=now
            )
            call.members[callee] = Member(callee, MemberState.RINGING, invited_by=caller, invited_at=now)
            reach = await self._reach(tx, callee)
            if isinstance(reach, EndReason):  # busy (by them), or a missed call for them, rung nowhere
                out.then(lambda: self.recorder.call_created(call))
                self._end(tx, out, call, reach, by=callee if reach == EndReason.BUSY else None)
                return call
            for device in reach:
                call.legs[new_id('l')] = device
            call.rings_until = call.members[callee].rings_until = now + self.ring_timeout_s
            tx.save(call)
            out.log(logging.INFO, '📞 Call initiated: %s → %s', caller, callee, extra=_fields(call))
            out.then(lambda: self.recorder.call_created(call))
            self._tell(out, call)
            return call

        return await self._transact(step)

    async def accept(self, call_id: str, user: str, device: str) -> Call:
        async def step(tx: CallTx, out: Outcome) -> Call:
            call = await self._call_for(tx, call_id, user)
            if (invitation := self._invitation(call, user)) is not None:
                return self._join(tx, out, call, invitation, device)
            return self._accept(tx, out, call, user, device)

        return await self._transact(step)

    async def add(self, call_id: str, inviter: str, device: str, name: str) -> Call:
        """Invite `name` into a call that was answered, by a member joined on `device`. Their tabs ring (the call is
        returned with their member ringing), or their member is `left` at once as busy, offline or not taking
        calls (do_not_disturb), as a call to them would end. Refused (CallError): yourself, someone already in
        this call, a full call, a call not answered yet, nobody by that name."""
        if name == inviter:
            raise CallError('You cannot add yourself.', Refusal.YOURSELF)
        bridge_answers = await self._bridge_answers(self.store.cached(call_id))

        async def step(tx: CallTx, out: Outcome) -> Call:
            call = await self._call_for(tx, call_id, inviter)
            self._check_joined_here(call, inviter, device)
            if call.state == CallState.RINGING:
                raise CallError('Add people once the call was answered.', Refusal.NOT_ANSWERED)
            if (known := call.member(name)) is not None and known.present:
                raise CallError(f'{name} is already in this call.', Refusal.ALREADY_IN_CALL)
            if len(call.present_users()) >= self.capacity:
                raise CallError(f'This call is full: {self.capacity} people at most.', Refusal.CALL_FULL)
            if self._needs_bridge(call, 1) and not bridge_answers:
                raise CallError(
                    f'This call is full: {self.mesh_capacity} people at most while the audio bridge for larger '
                    'calls does not answer.',
                    Refusal.CALL_FULL,
                )
            reach = await self._reach(tx, name)  # before any change: NOT_FOUND leaves the call as it was
            now = self.clock.now()
            if (earlier := call.members.pop(name, None)) is not None:
                call.former.append(earlier)  # in, left, and now asked again: the earlier stint stays for history
            member = Member(name, MemberState.RINGING, invited_by=inviter, invited_at=now)
            call.members[name] = member
            out.log(
                logging.INFO, '👥 Invited: %s (%s by %s)', name, _pair(call), inviter, extra=_fields(call, member=name)
            )
            if isinstance(reach, EndReason):
                self._leave(out, call, member, LeaveReason(str(reach)))
            else:
                member.ringing = list(reach)
                member.rings_until = now + self.ring_timeout_s
                if call.room is not None:
                    call.room.seat(name)
                elif self._needs_bridge(call, 0):
                    self._to_bridge(out, call)
                _link_ringing_tabs(call)
            tx.save(call)
            self._tell(out, call)
            return call

        return await self._transact(step)

    async def remove(self, call_id: str, host: str, device: str, name: str) -> Call:
        """The host (the caller, joined on `device`) takes `name` out of the call: a ringing invitation is
        cancelled, a joined member `removed`. The call goes on while two remain joined."""

        async def step(tx: CallTx, out: Outcome) -> Call:
            call = await self._call_for(tx, call_id, host)
            self._check_joined_here(call, host, device)
            if host != call.caller:
                raise CallError('Only the one who placed the call may remove people.', Refusal.NOT_HOST)
            if call.state == CallState.RINGING:
                raise CallError('The call was not answered yet: hang up to cancel it.', Refusal.NOT_ANSWERED)
            member = call.member(name)
            if name == host or member is None or not member.present:
                raise CallError(f'{name} is not in this call.')
            if member.state == MemberState.RINGING:
                self._leave(out, call, member, LeaveReason.CANCELLED)
                tx.save(call)
                self._tell(out, call)
            else:
                self._member_leaves(tx, out, call, name, LeaveReason.REMOVED, EndReason.COMPLETED, by=host)
            return call

        return await self._transact(step)

    async def decline(self, call_id: str, user: str, device: str) -> Call:
        async def step(tx: CallTx, out: Outcome) -> Call:
            call = await self._call_for(tx, call_id, user)
            if (invitation := self._invitation(call, user)) is not None:
                if device not in invitation.ringing:
                    raise CallError('This call is not ringing here.')
                self._leave(out, call, invitation, LeaveReason.DECLINED)
                tx.save(call)
                self._tell(out, call)
                return call
            if user != call.callee or call.leg_of(device) is None:
                raise CallError('Only the person called can decline.')
            if call.state != CallState.RINGING:
                raise CallError('This call was already answered.')
            self._end(tx, out, call, EndReason.DECLINED, by=user)
            return call

        return await self._transact(step)

    async def hang_up(self, call_id: str, user: str, device: str) -> Call:
        async def step(tx: CallTx, out: Outcome) -> Call:
            call = await self._call_for(tx, call_id, user)
            if device not in call.party_devices() or (user == call.callee and call.state == CallState.RINGING):
                raise CallError('You are not in this call here.')
            if call.state == CallState.RINGING:
                self._end(tx, out, call, EndReason.CANCELLED, by=user, left=(user, LeaveReason.HUNG_UP))
            else:
                self._member_leaves(tx, out, call, user, LeaveReason.HUNG_UP, EndReason.COMPLETED, by=user)
            return call

        return await self._transact(step)

    async def set_muted(self, call_id: str, user: str, device: str, muted: bool) -> Call:
        async def step(tx: CallTx, out: Outcome) -> Call:
            call = await self._call_for(tx, call_id, user)
            if device not in call.party_devices():
                raise CallError('You are not in this call here.')
            if muted != (user in call.muted):
                (call.muted.add if muted else call.muted.discard)(user)
                tx.save(call)
                self._tell(out, call)
            return call

        return await self._transact(step)

    # reports about the media (from the browser module of one device; see signaling.py)

    async def party_call(self, call_id: str, user: str, device: str) -> Call:
        """The call, if `device` may signal on it now (raises CallError otherwise). Checked against this process's
        view of the call first (kept current by every commit and by news of other processes' commits): a relayed
        offer or candidate then costs no round trip to a shared store; a device not seen there as a party is
        checked against the store itself."""
        cached = self.store.cached(call_id)
        if cached is not None and cached.has_user(user) and device in cached.signaling_devices():
            return cached

        async def step(tx: CallTx, out: Outcome) -> Call:
            return await self._party_call(tx, call_id, user, device, Call.signaling_devices)

        return await self._transact(step)

    async def media_up(self, call_id: str, user: str, device: str) -> None:
        async def step(tx: CallTx, out: Outcome) -> None:
            call = await self._party_call(tx, call_id, user, device)
            if call.state not in (CallState.CONNECTING, CallState.ACTIVE):
                raise CallError('Media before the call was answered.')
            if device in call.media_up:
                return
            call.media_up.add(device)
            if call.state == CallState.CONNECTING and call.media_up >= call.party_devices():
                self._move(call, CallState.ACTIVE)
                self._tell(out, call)
            tx.save(call)

        await self._transact(step)

    async def media_failed(self, call_id: str, user: str, device: str, reason: MediaFailure) -> None:
        await self._media_failed(call_id, user, device, reason, MEDIA_FAILURES[reason])

    async def bridge_lost(self, call_id: str, user: str, device: str) -> None:
        """The bridge carrying `device`'s media is gone (Janus stopped or cannot be reached): its media failed."""
        await self._media_failed(call_id, user, device, BRIDGE_LOST, 'The audio bridge was lost.')

    async def _media_failed(self, call_id: str, user: str, device: str, code: str, words: str) -> None:
        async def step(tx: CallTx, out: Outcome) -> None:
            call = await self._party_call(tx, call_id, user, device)
            if self._stays(call, user):
                self._member_leaves(tx, out, call, user, LeaveReason.FAILED, EndReason.FAILED, by=user)
                return
            call.failure = f'{user}: {words}'
            why = f'Media failed for {user}'
            self._end(tx, out, call, EndReason.FAILED, by=user, why=why, detail=code, left=(user, LeaveReason.FAILED))

        await self._transact(step)

    # what happens to parties' connections (each names the device's user: calls are found by their people)

    async def device_gone(self, user: str, device: str, deliberate: bool = False) -> None:
        """A tab is gone for good (or logged out, `deliberate`): drop its ringing leg, end the call it carried."""

        async def step(tx: CallTx, out: Outcome) -> None:
            call = await tx.of_user(user)
            if call is not None and (invitation := self._invitation(call, user)) is not None:
                if device in invitation.ringing:
                    invitation.ringing.remove(device)
                    if not invitation.ringing:
                        gone = LeaveReason.MISSED if deliberate else LeaveReason.CONNECTION_LOST
                        self._leave(out, call, invitation, gone)
                    _link_ringing_tabs(call)
                    tx.save(call)
                    self._tell(out, call)
                return
            if call is None or device not in call.party_devices():
                return
            if self._stays(call, user):
                gone = LeaveReason.HUNG_UP if deliberate else LeaveReason.CONNECTION_LOST
                self._member_leaves(tx, out, call, user, gone, EndReason.COMPLETED)
                return
            if call.state == CallState.RINGING and device != call.caller_device:
                del call.legs[call.leg_of(device)]  # type: ignore[arg-type]
                if call.legs:
                    tx.save(call)
                    return
            if not deliberate:
                self._end(tx, out, call, EndReason.CONNECTION_LOST)
            elif call.state == CallState.RINGING and device == call.caller_device:
                self._end(tx, out, call, EndReason.CANCELLED, by=call.caller)
            elif call.answered_at is not None:
                self._end(tx, out, call, EndReason.COMPLETED)
            else:
                self._end(tx, out, call, EndReason.MISSED, why=f'{call.callee} logged out')

        await self._transact(step)

    async def move_device(self, user: str, old: str, new: str) -> None:
        """A tab was reloaded: its new document takes over the old one's call. The legs it took part in get new
        ids, so both browsers negotiate fresh peer connections; the call, its state and timer carry on."""

        async def step(tx: CallTx, out: Outcome) -> None:
            call = await tx.of_user(user)
            if call is None:
                return
            member = call.member(user)
            if (invitation := self._invitation(call, user)) is not None:
                if old in invitation.ringing:  # a ringing tab reloaded: it rings again, as the new document
                    invitation.ringing[invitation.ringing.index(old)] = new
                    _link_ringing_tabs(call)
                    tx.save(call)
                    self._tell(out, call)
                return
            renewed = []
            if call.is_group and (member is None or member.device != old):
                return  # in a group only the tab carrying someone's call has peer connections to renew
            if call.added(user):
                pass  # no leg: only links
            elif old == call.caller_device:  # (someone who left and came back on another tab has only links)
                call.caller_device = new
                renewed = list(call.legs)
            elif (leg := call.leg_of(old)) is not None:
                call.legs[leg] = new
                if call.answered_leg not in (None, leg):
                    tx.save(call)
                    return  # a tab that only shows "answered elsewhere": nothing to renegotiate
                renewed = [leg]
            elif not call.is_group:
                return
            for leg in renewed:
                fresh = new_id('l')
                call.legs[fresh] = call.legs.pop(leg)
                if call.answered_leg == leg:
                    call.answered_leg = fresh
            if member is not None and member.device == old:
                member.device = new
            _renew_links(call, old, new)
            if call.is_group:
                call.media_up.discard(old)  # the others' media still flows among them
            else:
                call.media_up.clear()
            party = user
            call.away.discard(party)
            gone_for = max(0.0, self.clock.now() - call.away_since.pop(party, self.clock.now()))
            tx.save(call)
            out.log(
                logging.INFO,
                '🔄 Call resumed after a reload: %s in %s → %s (away %.1fs)',
                party,
                call.caller,
                call.callee,
                gone_for,
            )
            self._tell(out, call)

        await self._transact(step)

    async def set_away(self, user: str, device: str, away: bool) -> None:
        """A party's tab lost (or regained) its connection: the peer sees it as reconnecting."""

        async def step(tx: CallTx, out: Outcome) -> None:
            call = await tx.of_user(user)
            if call is None or device not in _carrying(call) or away == (user in call.away):
                return
            if away:
                call.away.add(user)
                call.away_since[user] = self.clock.now()
                out.log(logging.INFO, '📶 %s reconnecting in call %s → %s', user, call.caller, call.callee)
            else:
                call.away.discard(user)
                gone_for = self.clock.now() - call.away_since.pop(user, self.clock.now())
                out.log(
                    logging.INFO,
                    '📶 %s reconnected in call %s → %s after %.1fs',
                    user,
                    call.caller,
                    call.callee,
                    gone_for,
                )
            tx.save(call)
            self._tell(out, call)

        await self._transact(step)

    async def user_gone(self, user: str) -> None:
        """A user went offline (logout or grace expiry): their call ends."""

        async def step(tx: CallTx, out: Outcome) -> None:
            if (call := await tx.of_user(user)) is None:
                return
            if (invitation := self._invitation(call, user)) is not None:
                self._leave(out, call, invitation, LeaveReason.CONNECTION_LOST)
                tx.save(call)
                self._tell(out, call)
            elif self._stays(call, user):
                self._member_leaves(tx, out, call, user, LeaveReason.CONNECTION_LOST, EndReason.CONNECTION_LOST)
            else:
                self._end(tx, out, call, EndReason.CONNECTION_LOST)

        await self._transact(step)

    async def end_all(self, reason: EndReason) -> None:
        for call_id in list(self.calls):

            async def step(tx: CallTx, out: Outcome, call_id: str = call_id) -> None:
                if (call := await tx.get(call_id)) is not None:
                    self._end(tx, out, call, reason)

            await self._transact(step)

    # deadlines (the store says when one passed; whoever commits the ending first ends the call)

    async def deadline_passed(self, call_id: str) -> None:
        async def step(tx: CallTx, out: Outcome) -> None:
            call = await tx.get(call_id)
            if call is None or call.deadline is None:
                return
            now = self.clock.now()
            if now < call.deadline - DEADLINE_SLACK_S:  # a timer may fire a hair early: wait again
                tx.save(call)
                return
            if call.call_deadline is None or now < call.call_deadline - DEADLINE_SLACK_S:  # invitations' deadlines
                for member in call.invited():
                    if member.rings_until is not None and now >= member.rings_until - DEADLINE_SLACK_S:
                        self._leave(out, call, member, LeaveReason.MISSED)
                tx.save(call)
                self._tell(out, call)
                return
            if call.state == CallState.RINGING:
                self._end(tx, out, call, EndReason.MISSED, why=f'no answer in {self.ring_timeout_s:.0f}s')
            else:
                self._end(tx, out, call, EndReason.FAILED)

        await self._transact(step)

    # helpers

    async def _transact(self, step: Callable[[CallTx, Outcome], Awaitable[T]]) -> T:
        async def attempt(tx: CallTx) -> tuple[T, Outcome]:
            out = Outcome()  # a fresh one for each attempt: only the committed one is applied
            return await step(tx, out), out

        result, out = await self.store.transact(attempt)
        out.apply()
        return result

    def _accept(self, tx: CallTx, out: Outcome, call: Call, user: str, device: str) -> Call:
        if user != call.callee:
            raise CallError('Only the person called can answer.')
        if call.state != CallState.RINGING:
            raise CallError('This call was already answered.' if call.live else 'This call is over.')
        leg = call.leg_of(device)
        if leg is None:
            raise CallError('This call is not ringing here.')
        self._move(call, CallState.CONNECTING)
        call.answered_leg = leg
        call.answered_at = self.clock.now()
        if (member := call.member(user)) is not None:
            self._member_joins(call, member, device, call.answered_at)
        call.media_until = call.answered_at + self.media_timeout_s
        tx.save(call)
        out.log(logging.INFO, '✅ Call answered: %s → %s', call.caller, call.callee, extra=_fields(call))
        out.then(lambda: self.recorder.call_answered(call))  # a crash later still leaves the answer time
        self._tell(out, call)
        return call

    async def _resolve_glare(self, tx: CallTx, out: Outcome, call: Call, device: str) -> Call:
        """Both called each other: the call that reached the server first survives, the second click answers it."""
        out.log(
            logging.INFO, '🔀 Call glare: %s and %s called each other; keeping %s', call.caller, call.callee, call.id
        )
        if call.leg_of(device) is None:
            call.legs[new_id('l')] = device
        return self._accept(tx, out, call, call.callee, device)

    def _join_glare(self, tx: CallTx, out: Outcome, call: Call, user: str, device: str) -> Call:
        """Invited into a call, and calling someone in it meanwhile: the click joins the call (as in 1:1 glare)."""
        invitation = call.members[user]
        if device not in invitation.ringing:
            invitation.ringing.append(device)
        out.log(logging.INFO, '🔀 Call glare: %s called into the call %s they were invited to', user, call.id)
        return self._join(tx, out, call, invitation, device)

    def _needs_bridge(self, call: Call, more: int) -> bool:
        """Whether the call, with `more` people, is past what a mesh carries (and not on the bridge yet)."""
        if self.rooms is None or call.bridged:
            return False
        return len(call.present_users()) + more > self.mesh_capacity

    async def _bridge_answers(self, call: Call | None) -> bool:
        """Before a step that may move a call to the bridge: whether the bridge answers (asked only when it may)."""
        if self.rooms is None or (call is not None and (call.bridged or not self._needs_bridge(call, 1))):
            return call is not None and call.bridged
        return await self.rooms.reachable()

    def _to_bridge(self, out: Outcome, call: Call) -> None:
        """The call moves to the bridge: a room with a seat for everyone in it, each joined device's mesh links (and
        the caller-callee leg, which its tabs drop as the view's `leg` is None) replaced by one link to the bridge.
        Nobody accepts again: the tabs see their links change and negotiate the new one."""
        call.media = 'bridge'
        call.room = BridgeRoom.new(call.present_users())
        call.links.clear()  # (media_up stays: each tab reports its media once, and it flowed in the mesh)
        for member in call.joined():
            if member.device is not None:
                call.links[new_id('l')] = Link(member.user, member.device, BRIDGE_USER, BRIDGE_DEVICE)
        extra = _fields(call, media='bridge', people=len(call.present_users()))
        out.log(
            logging.INFO,
            '🌉 Call moved to the audio bridge: %s (%d people)',
            _pair(call),
            len(call.present_users()),
            extra=extra,
        )

    @staticmethod
    def _invites(call: Call, user: str, callee: str) -> bool:
        """Whether `user` is invited into `call` (answered) where `callee` is joined."""
        member, other = call.member(user), call.member(callee)
        ringing = member is not None and member.state == MemberState.RINGING and call.state != CallState.RINGING
        return ringing and other is not None and other.state == MemberState.JOINED

    @staticmethod
    def _invitation(call: Call, user: str) -> Member | None:
        """`user`'s ringing invitation into a call already answered (not the first callee's ring)."""
        member = call.member(user)
        if member is None or member.state != MemberState.RINGING or call.state == CallState.RINGING:
            return None
        return member

    @staticmethod
    def _stays(call: Call, user: str) -> bool:
        """Whether the call goes on without `user`: answered, and two others still joined."""
        if call.state == CallState.RINGING:
            return False
        return len([m for m in call.joined() if m.user != user]) >= 2

    @staticmethod
    def _check_joined_here(call: Call, user: str, device: str) -> None:
        member = call.member(user)
        if member is None or member.state != MemberState.JOINED or member.device != device:
            raise CallError('You are not in this call here.')

    async def _reach(self, tx: CallTx, name: str) -> list[str] | EndReason:
        """The devices a call to `name` rings, or why it rings none (busy, offline, do not disturb): the same
        checks for a call and for an invitation. Raises CallError if there is nobody by that name."""
        if await tx.of_user(name) is not None:
            return EndReason.BUSY
        devices = await self.delivery.devices_of(name)
        if not devices or self.delivery.not_taking_calls(name):
            if not devices and not await self.delivery.is_user(name):
                raise CallError(f'There is nobody called {name}.', Refusal.NOT_FOUND)
            return EndReason.DO_NOT_DISTURB if devices else EndReason.OFFLINE
        return devices

    def _join(self, tx: CallTx, out: Outcome, call: Call, member: Member, device: str) -> Call:
        """An invitee accepts on `device`: joined, with a link to each other joined member's device (the newcomer
        offers, as a callee's tab does): the ones it connected while it rang now carry voice, the others drop."""
        if device not in member.ringing:
            raise CallError('This call is not ringing here.')
        others = _joined_tabs(call)
        self._member_joins(call, member, device, self.clock.now())
        if call.room is not None:
            call.room.seat(member.user)
            call.links[new_id('l')] = Link(member.user, device, BRIDGE_USER, BRIDGE_DEVICE)
        else:
            _link(call, member.user, device, others)
        _link_ringing_tabs(call)
        tx.save(call)
        more = len([m for m in call.joined() if call.added(m.user)])
        out.log(
            logging.INFO,
            '👥 Joined: %s (%s +%d)',
            member.user,
            _pair(call),
            more,
            extra=_fields(call, member=member.user, outcome='joined'),
        )
        out.then(lambda: observe.notify('group_join', outcome='joined'))
        self._tell(out, call)
        return call

    def _member_joins(self, call: Call, member: Member, device: str, now: float) -> None:
        check_member_transition(member.state, MemberState.JOINED)
        member.state = MemberState.JOINED
        member.device = device
        member.joined_at = now
        member.ringing = []
        member.rings_until = None

    def _member_leaves(
        self,
        tx: CallTx,
        out: Outcome,
        call: Call,
        user: str,
        reason: LeaveReason,
        end: EndReason,
        by: str | None = None,
    ) -> None:
        """A joined member leaves: the call goes on while two others remain joined, else it ends for `end` as a 1:1
        call does."""
        if not self._stays(call, user):
            self._end(tx, out, call, end, by=by, left=(user, reason))
            return
        self._leave(out, call, call.members[user], reason)
        tx.save(call)
        self._tell(out, call)

    def _leave(self, out: Outcome, call: Call, member: Member, reason: LeaveReason, *, quiet: bool = False) -> None:
        """The one way a member leaves: checked against the tables, their links gone, the line logged (in a group
        call: in 1:1 the call's own lines say it all), an invitation's outcome counted."""
        check_member_transition(member.state, MemberState.LEFT, reason)
        was_invited = member.state == MemberState.RINGING
        member.state = MemberState.LEFT
        member.left_reason = reason
        member.left_at = self.clock.now()
        member.ringing = []
        if member.device is not None:
            call.media_up.discard(member.device)
            for link_id in list(call.links_of(member.device)):
                del call.links[link_id]
        _link_ringing_tabs(call)
        call.muted.discard(member.user)
        call.away.discard(member.user)
        call.away_since.pop(member.user, None)
        if call.is_group and not quiet:
            extra = _fields(call, member=member.user, outcome=str(reason))
            out.log(logging.INFO, '👥 Left: %s (%s, %s)', member.user, _pair(call), reason, extra=extra)
        if was_invited and call.added(member.user):
            out.then(lambda: observe.notify('group_join', outcome=str(reason)))

    async def _call_for(self, tx: CallTx, call_id: str, user: str) -> Call:
        call = await tx.get(call_id)
        if call is None or not call.has_user(user):
            raise CallError('No such call.')  # same answer for both: ids of others' calls reveal nothing
        return call

    async def _party_call(
        self,
        tx: CallTx,
        call_id: str,
        user: str,
        device: str,
        devices: Callable[[Call], set[str]] = Call.party_devices,
    ) -> Call:
        """The call, if `device` is one of its `devices` (the party devices unless told), else CallError."""
        call = await self._call_for(tx, call_id, user)
        if device not in devices(call):
            raise CallError('You are not a party of this call here.')
        return call

    def _everyone_leaves(
        self, out: Outcome, call: Call, reason: EndReason, left: tuple[str, LeaveReason] | None
    ) -> None:
        # the ended call keeps its last picture: who was away (`connection lost: you went away`) or muted then
        away, away_since, muted = set(call.away), dict(call.away_since), set(call.muted)
        for member in call.members.values():
            if member.state == MemberState.RINGING:
                self._leave(out, call, member, RINGING_WHEN_CALL_ENDS.get(reason, LeaveReason.CANCELLED), quiet=True)
            elif member.state == MemberState.JOINED:
                if left is not None and left[0] == member.user:
                    self._leave(out, call, member, left[1])
                else:
                    self._leave(out, call, member, LeaveReason.CALL_ENDED, quiet=True)
        call.away, call.away_since, call.muted = away, away_since, muted

    def _tell(self, out: Outcome, call: Call) -> None:
        out.then(lambda: self.delivery.call_changed(call))

    def _move(self, call: Call, state: CallState) -> None:
        check_transition(call.state, state)
        call.state = state

    def _end(
        self,
        tx: CallTx,
        out: Outcome,
        call: Call,
        reason: EndReason,
        *,
        by: str | None = None,
        why: str | None = None,
        detail: str | None = None,
        left: tuple[str, LeaveReason] | None = None,
    ) -> None:
        """The one way a call ends: the reason is set, the outcome logged, the row written, both sides told.
        `why` and `detail` complete the outcome line where the reason alone does not say enough. `left`: the
        member whose leaving ended it and why; everyone still in it leaves with the call."""
        check_transition(call.state, CallState.ENDED, reason)
        _log_outcome(out, call, reason, why, detail)
        self._everyone_leaves(out, call, reason, left)
        call.state = CallState.ENDED
        call.end_reason = reason
        call.ended_by = by
        call.ended_at = self.clock.now()
        tx.delete(call)
        if call.answered_at is not None:
            duration = round(call.duration(call.ended_at))
            fields = _fields(call, outcome=str(reason), duration_s=duration)
            out.log(
                logging.INFO,
                '📴 Call ended: %ds (%s → %s, %s)',
                duration,
                call.caller,
                call.callee,
                reason,
                extra=fields,
            )
        out.then(lambda: self.recorder.call_finished(call))
        if call.room is not None and self.rooms is not None:
            rooms, room = self.rooms, call.room
            out.then(lambda: rooms.room_ended(room))
        talk_s = call.duration(call.ended_at) if call.answered_at is not None else None
        out.then(lambda: observe.notify('call_ended', outcome=str(reason), duration_s=talk_s))
        self._tell(out, call)


def _log_outcome(out: Outcome, call: Call, reason: EndReason, why: str | None, detail: str | None) -> None:
    """The line that says how a call ended, before it is marked ended (a ringing call lost is a missed call)."""
    pair = f'{call.caller} → {call.callee}'
    fields = _fields(call, outcome=str(reason))
    if reason == EndReason.DECLINED:
        out.log(logging.INFO, '🙅 Call declined: %s', pair, extra=fields)
    elif reason == EndReason.CANCELLED:
        out.log(logging.INFO, '↩️ Call cancelled: %s', pair, extra=fields)
    elif reason == EndReason.BUSY:
        out.log(logging.INFO, '🚫 Call busy: %s', pair, extra=fields)
    elif reason == EndReason.OFFLINE:
        out.log(logging.INFO, '💤 Call to someone offline: %s', pair, extra=fields)
    elif reason == EndReason.DO_NOT_DISTURB:
        out.log(logging.INFO, '🔕 Call not taken (do not disturb): %s', pair, extra=fields)
    elif reason == EndReason.MISSED:
        out.log(logging.INFO, '📵 Call missed: %s (%s)', pair, why, extra=fields)
    elif reason == EndReason.CONNECTION_LOST and call.state == CallState.RINGING:
        out.log(logging.INFO, '📵 Call missed: %s (connection lost)', pair, extra=fields)
    elif reason == EndReason.CONNECTION_LOST:
        who = ', '.join(sorted(call.away)) or 'a party'
        out.log(logging.INFO, '💔 Connection lost: %s (%s did not come back)', pair, who, extra=fields)
    elif reason == EndReason.FAILED and why is not None:
        out.log(logging.WARNING, '🎙️ %s in call %s: %s', why, call.id, detail, extra=fields)
    elif reason == EndReason.FAILED:
        out.log(logging.WARNING, '🎙️ Media never came up in call %s: %s', call.id, pair, extra=fields)


def _pair(call: Call) -> str:
    return f'{call.caller} → {call.callee}'


def _carrying(call: Call) -> set[str]:
    """The devices that carry the call's audio: the caller's and the answering leg's, and each joined member's."""
    return {call.caller_device, call.callee_device, *(m.device for m in call.joined())} - {None}  # type: ignore[return-value]


def _link_ringing_tabs(call: Call) -> None:
    """Keep a mesh's links in step with which invitees' tabs ring: each ringing tab has a link to every joined
    member's tab, as a callee's tab has its leg while it rings (so Accept only opens the microphones: the peer
    connections are up already); a link with an end that neither rings nor is joined any more drops. A call on the
    bridge has none: Janus would mix the call to a tab that has not accepted."""
    joined = _joined_tabs(call)
    ringing = {} if call.bridged else {d: m.user for m in call.invited() if call.added(m.user) for d in m.ringing}
    for link_id, link in list(call.links.items()):
        if not link.to_bridge and (link.offerer_device not in joined | ringing or link.answerer_device not in joined):
            del call.links[link_id]
    for device, user in ringing.items():
        _link(call, user, device, joined)


def _joined_tabs(call: Call) -> dict[str, str]:
    """Each joined member's device → their name."""
    return {m.device: m.user for m in call.joined() if m.device is not None}


def _link(call: Call, user: str, device: str, to: dict[str, str]) -> None:
    """A link (`device` offers) to each of `to` (device → user) it has none with yet."""
    linked = {link.answerer_device for link in call.links.values() if link.offerer_device == device}
    linked |= {link.offerer_device for link in call.links.values() if link.answerer_device == device}
    for other_device, other in to.items():
        if other_device != device and other_device not in linked:
            call.links[new_id('l')] = Link(user, device, other, other_device)


def _renew_links(call: Call, old: str, new: str) -> None:
    """A reloaded tab: its links get new ids and its new document as their end (both ends negotiate afresh)."""
    for link_id, link in list(call.links.items()):
        if link.end_of(old) is None:
            continue
        del call.links[link_id]
        if link.offerer_device == old:
            link.offerer_device = new
        if link.answerer_device == old:
            link.answerer_device = new
        call.links[new_id('l')] = link


def _fields(call: Call, **more: Any) -> dict[str, Any]:
    """The fields of a line about this call, for machine-readable logs (LOG_FORMAT=json)."""
    return call_fields(call.caller, call.callee, call.id, **more)
