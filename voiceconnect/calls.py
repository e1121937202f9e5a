"""The server-authoritative call state machine (modelled on Matrix VoIP v1).

    ringing ──accept──▶ connecting ──both sides report media──▶ active
       └──────────────────────┴───────── end(reason) ──────────────┴──▶ ended

`TRANSITIONS` and `END_REASONS` are the whole machine: which state may follow which, and for what reasons a
call may end in each live state. Every change of state goes through `_move` or `_end`, which check the tables;
`_end` is also the one place that sets the reason, logs the outcome line and writes the call's row.

A call has one caller device (the tab that placed it) and one *leg* per callee device: every tab of the
callee rings and pre-negotiates its own peer connection with the caller while ringing, with no audio sent
either way. The first `accept` wins; the other legs are told `answered_elsewhere` and dropped. Browsers
only ever see call ids and leg ids, never another user's device or session identifiers.

The actions are coroutines: here they never wait for anything, but a call store shared by several processes
does. Limits on how often someone may call are the caller's business (the device), not the machine's.
"""

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from .clock import Callback, Clock, Timer
from .signals import MEDIA_FAILURES, MediaFailure

log = logging.getLogger('voiceconnect')


class CallState(StrEnum):
    RINGING = 'ringing'
    CONNECTING = 'connecting'  # answered; the audio path is coming up
    ACTIVE = 'active'  # both sides reported media
    ENDED = 'ended'


class EndReason(StrEnum):
    COMPLETED = 'completed'
    DECLINED = 'declined'
    CANCELLED = 'cancelled'
    MISSED = 'missed'
    BUSY = 'busy'
    FAILED = 'failed'
    CONNECTION_LOST = 'connection_lost'
    SERVER_RESTART = 'server_restart'


R = EndReason
TRANSITIONS: Mapping[CallState, frozenset[CallState]] = {
    CallState.RINGING: frozenset({CallState.CONNECTING, CallState.ENDED}),
    CallState.CONNECTING: frozenset({CallState.ACTIVE, CallState.ENDED}),
    CallState.ACTIVE: frozenset({CallState.ENDED}),
    CallState.ENDED: frozenset(),
}
# Ending for reasons that fit the state: a call nobody answered cannot be `completed`, an answered one cannot be
# `declined`, `cancelled`, `missed` or `busy`. Failed media and lost connections can happen at any time.
_ANY_TIME = {R.FAILED, R.CONNECTION_LOST, R.SERVER_RESTART}
END_REASONS: Mapping[CallState, frozenset[EndReason]] = {
    CallState.RINGING: frozenset({R.DECLINED, R.CANCELLED, R.MISSED, R.BUSY, *_ANY_TIME}),
    CallState.CONNECTING: frozenset({R.COMPLETED, *_ANY_TIME}),
    CallState.ACTIVE: frozenset({R.COMPLETED, *_ANY_TIME}),
    CallState.ENDED: frozenset(),
}


class CallError(Exception):
    """An action or signal that is not allowed; the message goes back to the one who sent it."""


class IllegalTransition(RuntimeError):
    """A transition the tables do not allow: a bug in the machine, never a person's mistake."""


def check_transition(current: CallState, target: CallState, reason: EndReason | None = None) -> None:
    """Raise IllegalTransition unless `current → target` (for `reason`, when ending) is in the tables."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f'{current} → {target}')
    if target == CallState.ENDED and reason not in END_REASONS[current]:
        raise IllegalTransition(f'{current} → ended ({reason})')
    if target != CallState.ENDED and reason is not None:
        raise IllegalTransition(f'{current} → {target} has no end reason')


def new_id(prefix: str) -> str:
    return f'{prefix}{secrets.token_urlsafe(12)}'


@dataclass(eq=False)
class Call:
    id: str
    caller: str
    callee: str
    caller_device: str
    created: float
    state: CallState = CallState.RINGING
    legs: dict[str, str] = field(default_factory=dict)  # leg id → callee device
    answered_leg: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: EndReason | None = None
    ended_by: str | None = None  # the user whose action ended it, if any
    failure: str | None = None  # why media failed, in the server's words
    rings_until: float | None = None  # when an unanswered call becomes missed
    muted: set[str] = field(default_factory=set)  # users who muted themselves
    away: set[str] = field(default_factory=set)  # users whose call tab lost its connection for now
    away_since: dict[str, float] = field(default_factory=dict, repr=False)  # when each of them went away
    media_up: set[str] = field(default_factory=set)  # party devices whose media flows
    timer: Timer | None = field(default=None, repr=False)  # the ring or media deadline

    @property
    def live(self) -> bool:
        return self.state != CallState.ENDED

    @property
    def callee_device(self) -> str | None:
        return self.legs.get(self.answered_leg) if self.answered_leg else None

    def has_user(self, user: str) -> bool:
        return user in (self.caller, self.callee)

    def peer_of(self, user: str) -> str:
        return self.callee if user == self.caller else self.caller

    def leg_of(self, device: str) -> str | None:
        return next((leg for leg, d in self.legs.items() if d == device), None)

    def party_devices(self) -> set[str]:
        """Devices that may signal on this call now: the caller's, and the answering leg (or all ringing legs)."""
        if self.answered_leg is not None:
            return {self.caller_device, self.legs[self.answered_leg]}
        return {self.caller_device, *self.legs.values()}

    def duration(self, now: float) -> float:
        if self.answered_at is None:
            return 0.0
        return (self.ended_at or now) - self.answered_at


class Delivery(Protocol):
    """Where the call manager's news goes, and which devices a call rings."""

    async def devices_of(self, user: str) -> list[str]: ...

    def call_changed(self, call: Call) -> None: ...


class Recorder(Protocol):
    """Where every call that rang is written down (the call history)."""

    def call_created(self, call: Call) -> None: ...

    def call_answered(self, call: Call) -> None: ...

    def call_finished(self, call: Call) -> None: ...


class CallManager:
    def __init__(
        self, delivery: Delivery, clock: Clock, recorder: Recorder, *, ring_timeout_s: float, media_timeout_s: float
    ) -> None:
        self.delivery = delivery
        self.clock = clock
        self.recorder = recorder
        self.ring_timeout_s = ring_timeout_s
        self.media_timeout_s = media_timeout_s
        self.calls: dict[str, Call] = {}  # live calls only; ended ones are dropped

    # queries

    def get(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def live_call_of(self, user: str) -> Call | None:
        return next((call for call in self.calls.values() if call.has_user(user)), None)

    def users_in_calls(self) -> set[str]:
        return {user for call in self.calls.values() for user in (call.caller, call.callee)}

    # actions (from the UI of one device)

    async def place_call(self, caller: str, caller_device: str, callee: str) -> Call:
        """Ring every device of `callee`. Returns the call; it is already ended with `busy` if callee is busy."""
        if caller == callee:
            raise CallError('You cannot call yourself.')
        if (own := self.live_call_of(caller)) is not None:
            if own.state == CallState.RINGING and own.caller == callee:
                return await self._resolve_glare(own, caller_device)
            raise CallError('Hang up your current call first.')
        call = Call(id=new_id('c'), caller=caller, callee=callee, caller_device=caller_device, created=self.clock.now())
        if self.live_call_of(callee) is not None:
            self.recorder.call_created(call)
            self._end(call, EndReason.BUSY, by=callee)
            return call
        devices = await self.delivery.devices_of(callee)
        if not devices:
            raise CallError(f'{callee} is not online.')
        for device in devices:
            call.legs[new_id('l')] = device
        self.calls[call.id] = call
        call.rings_until = call.created + self.ring_timeout_s
        self._set_deadline(call, self.ring_timeout_s, lambda: self._ring_timed_out(call))
        log.info('📞 Call initiated: %s → %s', caller, callee)
        self.recorder.call_created(call)
        self.delivery.call_changed(call)
        return call

    async def accept(self, call_id: str, user: str, device: str) -> Call:
        call = self._call_for(call_id, user)
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
        self._set_deadline(call, self.media_timeout_s, lambda: self._media_timed_out(call))
        log.info('✅ Call answered: %s → %s', call.caller, call.callee)
        self.recorder.call_answered(call)  # a crash later still leaves the answer time (and so a duration)
        self.delivery.call_changed(call)
        return call

    async def decline(self, call_id: str, user: str, device: str) -> Call:
        call = self._call_for(call_id, user)
        if user != call.callee or call.leg_of(device) is None:
            raise CallError('Only the person called can decline.')
        if call.state != CallState.RINGING:
            raise CallError('This call was already answered.')
        self._end(call, EndReason.DECLINED, by=user)
        return call

    async def hang_up(self, call_id: str, user: str, device: str) -> Call:
        call = self._call_for(call_id, user)
        if device not in call.party_devices() or (user == call.callee and call.state == CallState.RINGING):
            raise CallError('You are not in this call here.')
        self._end(call, EndReason.CANCELLED if call.state == CallState.RINGING else EndReason.COMPLETED, by=user)
        return call

    async def set_muted(self, call_id: str, user: str, device: str, muted: bool) -> Call:
        call = self._call_for(call_id, user)
        if device not in call.party_devices():
            raise CallError('You are not in this call here.')
        if muted != (user in call.muted):
            (call.muted.add if muted else call.muted.discard)(user)
            self.delivery.call_changed(call)
        return call

    # reports about the media (from the browser module of one device; see signaling.py)

    def party_call(self, call_id: str, user: str, device: str) -> Call:
        """The call, if `device` may signal on it now (raises CallError otherwise)."""
        call = self._call_for(call_id, user)
        if device not in call.party_devices():
            raise CallError('You are not a party of this call here.')
        return call

    async def media_up(self, call_id: str, user: str, device: str) -> None:
        call = self.party_call(call_id, user, device)
        if call.state not in (CallState.CONNECTING, CallState.ACTIVE):
            raise CallError('Media before the call was answered.')
        call.media_up.add(device)
        if call.state == CallState.CONNECTING and call.media_up >= call.party_devices():
            self._cancel_deadline(call)
            self._move(call, CallState.ACTIVE)
            self.delivery.call_changed(call)

    async def media_failed(self, call_id: str, user: str, device: str, reason: MediaFailure) -> None:
        call = self.party_call(call_id, user, device)
        call.failure = f'{user}: {MEDIA_FAILURES[reason]}'
        self._end(call, EndReason.FAILED, by=user, why=f'Media failed for {user}', detail=reason)

    # what happens to parties' connections

    async def device_gone(self, device: str, deliberate: bool = False) -> None:
        """A tab is gone for good (or logged out, `deliberate`): drop its ringing leg, end the calls it carried."""
        for call in list(self.calls.values()):
            if device not in call.party_devices():
                continue
            if call.state == CallState.RINGING and device != call.caller_device:
                del call.legs[call.leg_of(device)]  # type: ignore[arg-type]
                if call.legs:
                    continue
            if not deliberate:
                self._end(call, EndReason.CONNECTION_LOST)
            elif call.state == CallState.RINGING and device == call.caller_device:
                self._end(call, EndReason.CANCELLED, by=call.caller)
            elif call.answered_at is not None:
                self._end(call, EndReason.COMPLETED)
            else:
                self._end(call, EndReason.MISSED, why=f'{call.callee} logged out')

    async def move_device(self, old: str, new: str) -> None:
        """A tab was reloaded: its new document takes over the old one's calls. The legs it took part in get new
        ids, so both browsers negotiate fresh peer connections; the call, its state and timer carry on."""
        for call in list(self.calls.values()):
            if old == call.caller_device:
                call.caller_device = new
                renewed = list(call.legs)
            elif (leg := call.leg_of(old)) is not None:
                call.legs[leg] = new
                if call.answered_leg not in (None, leg):
                    continue  # a tab that only shows "answered elsewhere": nothing to renegotiate
                renewed = [leg]
            else:
                continue
            for leg in renewed:
                fresh = new_id('l')
                call.legs[fresh] = call.legs.pop(leg)
                if call.answered_leg == leg:
                    call.answered_leg = fresh
            call.media_up.clear()
            user = call.caller if new == call.caller_device else call.callee
            call.away.discard(user)
            gone_for = max(0.0, self.clock.now() - call.away_since.pop(user, self.clock.now()))
            log.info(
                '🔄 Call resumed after a reload: %s in %s → %s (away %.1fs)', user, call.caller, call.callee, gone_for
            )
            self.delivery.call_changed(call)

    async def set_away(self, device: str, away: bool) -> None:
        """A party's tab lost (or regained) its connection: the peer sees it as reconnecting."""
        for call in self.calls.values():
            if device != call.caller_device and device != call.callee_device:
                continue
            user = call.caller if device == call.caller_device else call.callee
            if away == (user in call.away):
                continue
            if away:
                call.away.add(user)
                call.away_since[user] = self.clock.now()
                log.info('📶 %s reconnecting in call %s → %s', user, call.caller, call.callee)
            else:
                call.away.discard(user)
                gone_for = self.clock.now() - call.away_since.pop(user, self.clock.now())
                log.info('📶 %s reconnected in call %s → %s after %.1fs', user, call.caller, call.callee, gone_for)
            self.delivery.call_changed(call)

    async def user_gone(self, user: str) -> None:
        """A user went offline (logout or grace expiry): their calls end."""
        for call in list(self.calls.values()):
            if call.has_user(user):
                self._end(call, EndReason.CONNECTION_LOST)

    async def end_all(self, reason: EndReason) -> None:
        for call in list(self.calls.values()):
            self._end(call, reason)

    # deadlines

    async def _ring_timed_out(self, call: Call) -> None:
        if call.state == CallState.RINGING:
            self._end(call, EndReason.MISSED, why=f'no answer in {self.ring_timeout_s:.0f}s')

    async def _media_timed_out(self, call: Call) -> None:
        if call.state == CallState.CONNECTING:
            self._end(call, EndReason.FAILED)

    def _set_deadline(self, call: Call, delay: float, callback: Callback) -> None:
        self._cancel_deadline(call)
        call.timer = self.clock.call_later(delay, callback)

    def _cancel_deadline(self, call: Call) -> None:
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None

    # helpers

    async def _resolve_glare(self, call: Call, device: str) -> Call:
        """Both called each other: the call that reached the server first survives, the second click answers it."""
        log.info('🔀 Call glare: %s and %s called each other; keeping %s', call.caller, call.callee, call.id)
        if call.leg_of(device) is None:
            call.legs[new_id('l')] = device
        return await self.accept(call.id, call.callee, device)

    def _call_for(self, call_id: str, user: str) -> Call:
        call = self.calls.get(call_id)
        if call is None or not call.has_user(user):
            raise CallError('No such call.')  # same answer for both: ids of others' calls reveal nothing
        return call

    def _move(self, call: Call, state: CallState) -> None:
        check_transition(call.state, state)
        call.state = state

    def _end(
        self,
        call: Call,
        reason: EndReason,
        *,
        by: str | None = None,
        why: str | None = None,
        detail: str | None = None,
    ) -> None:
        """The one way a call ends: the reason is set, the outcome logged, the row written, both sides told.
        `why` and `detail` complete the outcome line where the reason alone does not say enough."""
        check_transition(call.state, CallState.ENDED, reason)
        _log_outcome(call, reason, why, detail)
        self._cancel_deadline(call)
        call.state = CallState.ENDED
        call.end_reason = reason
        call.ended_by = by
        call.ended_at = self.clock.now()
        self.calls.pop(call.id, None)
        if call.answered_at is not None:
            duration = round(call.duration(call.ended_at))
            log.info('📴 Call ended: %ds (%s → %s, %s)', duration, call.caller, call.callee, reason)
        self.recorder.call_finished(call)
        self.delivery.call_changed(call)


def _log_outcome(call: Call, reason: EndReason, why: str | None, detail: str | None) -> None:
    """The line that says how a call ended, before it is marked ended (a ringing call lost is a missed call)."""
    pair = f'{call.caller} → {call.callee}'
    if reason == EndReason.DECLINED:
        log.info('🙅 Call declined: %s', pair)
    elif reason == EndReason.CANCELLED:
        log.info('↩️ Call cancelled: %s', pair)
    elif reason == EndReason.BUSY:
        log.info('🚫 Call busy: %s', pair)
    elif reason == EndReason.MISSED:
        log.info('📵 Call missed: %s (%s)', pair, why)
    elif reason == EndReason.CONNECTION_LOST and call.state == CallState.RINGING:
        log.info('📵 Call missed: %s (connection lost)', pair)
    elif reason == EndReason.CONNECTION_LOST:
        log.info('💔 Connection lost: %s (%s did not come back)', pair, ', '.join(sorted(call.away)) or 'a party')
    elif reason == EndReason.FAILED and why is not None:
        log.warning('🎙️ %s in call %s: %s', why, call.id, detail)
    elif reason == EndReason.FAILED:
        log.warning('🎙️ Media never came up in call %s: %s', call.id, pair)
