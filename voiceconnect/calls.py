"""The server-authoritative call state machine (modelled on Matrix VoIP v1).

ringing → connecting (answered, media coming up) → active (both sides report media) → ended.

A call has one caller device (the tab that placed it) and one *leg* per callee device: every tab of the
callee rings and pre-negotiates its own peer connection with the caller while ringing, with no audio sent
either way. The first `accept` wins; the other legs are told `answered_elsewhere` and dropped. Browsers
only ever see call ids and leg ids, never another user's device or session identifiers.
"""

import logging
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from .clock import Clock, Timer
from .ratelimit import Limits, RateLimiter
from .signals import Answer, Candidate, MediaFailed, MediaUp, Offer, Signal

log = logging.getLogger('voiceconnect')


class CallState(StrEnum):
    RINGING = 'ringing'
    CONNECTING = 'connecting'
    ACTIVE = 'active'
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


class CallError(Exception):
    """An action or signal that is not allowed; the message goes back to the one who sent it."""


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
    failure: str | None = None  # what the browser said when media failed
    rings_until: float | None = None  # when an unanswered call becomes missed
    muted: set[str] = field(default_factory=set)  # users who muted themselves
    away: set[str] = field(default_factory=set)  # users whose call tab lost its connection for now
    away_since: dict[str, float] = field(default_factory=dict, repr=False)  # when each of them went away
    media_up: set[str] = field(default_factory=set)  # party devices whose media flows
    timer: Timer | None = field(default=None, repr=False)

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
    """Where the call manager's news goes: implemented by the hub over the connection services."""

    def devices_of(self, user: str) -> list[str]: ...

    def call_changed(self, call: Call) -> None: ...

    def relay(self, device: str, message: dict[str, Any]) -> None: ...


class Recorder(Protocol):
    def call_created(self, call: Call) -> None: ...

    def call_answered(self, call: Call) -> None: ...

    def call_finished(self, call: Call) -> None: ...


class NullRecorder:
    def call_created(self, call: Call) -> None:
        pass

    def call_answered(self, call: Call) -> None:
        pass

    def call_finished(self, call: Call) -> None:
        pass


class CallManager:
    def __init__(
        self,
        delivery: Delivery,
        clock: Clock,
        *,
        ring_timeout_s: float,
        media_timeout_s: float = 20.0,
        recorder: Recorder | None = None,
        calls_per_minute: int = Limits.calls_per_minute,
    ) -> None:
        self.delivery = delivery
        self.clock = clock
        self.attempts: RateLimiter[str] = RateLimiter(calls_per_minute, 60.0, clock)  # per calling user
        self.ring_timeout_s = ring_timeout_s
        self.media_timeout_s = media_timeout_s
        self.recorder: Recorder = recorder or NullRecorder()
        self.calls: dict[str, Call] = {}  # live calls only; ended ones are dropped

    # queries

    def get(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def live_call_of(self, user: str) -> Call | None:
        return next((call for call in self.calls.values() if call.has_user(user)), None)

    def users_in_calls(self) -> set[str]:
        return {user for call in self.calls.values() for user in (call.caller, call.callee)}

    # actions (from the UI of one device)

    def place_call(self, caller: str, caller_device: str, callee: str) -> Call:
        """Ring every device of `callee`. Returns the call; it is already ended with `busy` if callee is busy."""
        if caller == callee:
            raise CallError('You cannot call yourself.')
        self._count_attempt(caller)
        if (own := self.live_call_of(caller)) is not None:
            if own.state == CallState.RINGING and own.caller == callee:
                return self._resolve_glare(own, caller_device)
            raise CallError('Hang up your current call first.')
        call = Call(id=new_id('c'), caller=caller, callee=callee, caller_device=caller_device, created=self.clock.now())
        if (existing := self.live_call_of(callee)) is not None:
            if existing.state == CallState.RINGING and existing.caller == callee and existing.callee == caller:
                return self._resolve_glare(existing, caller_device)
            log.info('🚫 Call busy: %s → %s', caller, callee)
            self.recorder.call_created(call)
            self._end(call, EndReason.BUSY, by=callee, notify=False)
            self.delivery.call_changed(call)
            return call
        devices = self.delivery.devices_of(callee)
        if not devices:
            raise CallError(f'{callee} is not online.')
        for device in devices:
            call.legs[new_id('l')] = device
        self.calls[call.id] = call
        call.rings_until = call.created + self.ring_timeout_s
        call.timer = self.clock.call_later(self.ring_timeout_s, lambda: self._ring_timed_out(call))
        log.info('📞 Call initiated: %s → %s', caller, callee)
        self.recorder.call_created(call)
        self.delivery.call_changed(call)
        return call

    def _count_attempt(self, caller: str) -> None:
        """Ringing someone again and again is the abuse: refused attempts do not count, so waiting is enough."""
        if (limited := self.attempts.hit(caller)) is not None:
            if limited.report:
                log.warning('⚠️ Rate limited: calls by %s (retry in %s)', caller, limited.wait)
            raise CallError(f'You are calling too often. Try again in {limited.wait}.')

    def accept(self, call_id: str, user: str, device: str) -> Call:
        call = self._call_for(call_id, user)
        if user != call.callee:
            raise CallError('Only the person called can answer.')
        if call.state != CallState.RINGING:
            raise CallError('This call was already answered.' if call.live else 'This call is over.')
        leg = call.leg_of(device)
        if leg is None:
            raise CallError('This call is not ringing here.')
        self._cancel_timer(call)
        call.state = CallState.CONNECTING
        call.answered_leg = leg
        call.answered_at = self.clock.now()
        call.timer = self.clock.call_later(self.media_timeout_s, lambda: self._media_timed_out(call))
        log.info('✅ Call answered: %s → %s', call.caller, call.callee)
        self.recorder.call_answered(call)  # a crash later still leaves the answer time (and so a duration)
        self.delivery.call_changed(call)
        return call

    def decline(self, call_id: str, user: str, device: str) -> Call:
        call = self._call_for(call_id, user)
        if user != call.callee or call.leg_of(device) is None:
            raise CallError('Only the person called can decline.')
        if call.state != CallState.RINGING:
            raise CallError('This call was already answered.')
        log.info('🙅 Call declined: %s → %s', call.caller, call.callee)
        self._end(call, EndReason.DECLINED, by=user)
        return call

    def hang_up(self, call_id: str, user: str, device: str) -> Call:
        call = self._call_for(call_id, user)
        if device not in call.party_devices() or (user == call.callee and call.state == CallState.RINGING):
            raise CallError('You are not in this call here.')
        if call.state == CallState.RINGING:
            log.info('↩️ Call cancelled: %s → %s', call.caller, call.callee)
            self._end(call, EndReason.CANCELLED, by=user)
        else:
            self._end(call, EndReason.COMPLETED, by=user)
        return call

    def set_muted(self, call_id: str, user: str, device: str, muted: bool) -> Call:
        call = self._call_for(call_id, user)
        if device not in call.party_devices():
            raise CallError('You are not in this call here.')
        if muted != (user in call.muted):
            (call.muted.add if muted else call.muted.discard)(user)
            self.delivery.call_changed(call)
        return call

    # signaling (from the browser module of one device)

    def handle_signal(self, user: str, device: str, signal: Signal) -> None:
        call = self._call_for(signal.call_id, user)
        if device not in call.party_devices():
            raise CallError('You are not a party of this call here.')
        is_caller = device == call.caller_device
        if isinstance(signal, Offer | Answer | Candidate):
            self._relay_negotiation(call, device, is_caller, signal)
        elif isinstance(signal, MediaUp):
            self._media_up(call, device)
        elif isinstance(signal, MediaFailed):
            log.warning('🎙️ Media failed for %s in call %s: %s', user, call.id, signal.reason)
            call.failure = f'{user}: {signal.words}'
            self._end(call, EndReason.FAILED, by=user)

    def _relay_negotiation(self, call: Call, device: str, is_caller: bool, signal: Offer | Answer | Candidate) -> None:
        leg = signal.leg if is_caller else call.leg_of(device)
        if leg is None or leg not in call.legs or (is_caller and call.answered_leg not in (None, leg)):
            raise CallError('Unknown leg for this call.')
        if not is_caller and signal.leg != leg:
            raise CallError('That leg is not yours.')
        if (isinstance(signal, Offer) and is_caller) or (isinstance(signal, Answer) and not is_caller):
            raise CallError(f'The {"callee" if isinstance(signal, Offer) else "caller"} sends the {signal.kind}.')
        target = call.legs[leg] if is_caller else call.caller_device
        self.delivery.relay(target, {'call_id': call.id, **signal.model_dump(exclude={'call_id'})} | {'leg': leg})

    def _media_up(self, call: Call, device: str) -> None:
        if call.state not in (CallState.CONNECTING, CallState.ACTIVE):
            raise CallError('Media before the call was answered.')
        call.media_up.add(device)
        if call.state == CallState.CONNECTING and call.media_up >= call.party_devices():
            self._cancel_timer(call)
            call.state = CallState.ACTIVE
            self.delivery.call_changed(call)

    # what happens to parties' connections

    def device_gone(self, device: str, deliberate: bool = False) -> None:
        """A tab is gone for good (or logged out, `deliberate`): drop its ringing leg, end the calls it carried."""
        for call in list(self.calls.values()):
            if device not in call.party_devices():
                continue
            if call.state == CallState.RINGING and device != call.caller_device:
                del call.legs[call.leg_of(device)]  # type: ignore[arg-type]
                if call.legs:
                    continue
            if not deliberate:
                self._lose(call)
            elif call.state == CallState.RINGING and device == call.caller_device:
                log.info('↩️ Call cancelled: %s → %s', call.caller, call.callee)
                self._end(call, EndReason.CANCELLED, by=call.caller)
            elif call.answered_at is not None:
                self._end(call, EndReason.COMPLETED)
            else:
                log.info('📵 Call missed: %s → %s (%s logged out)', call.caller, call.callee, call.callee)
                self._end(call, EndReason.MISSED)

    def move_device(self, old: str, new: str) -> None:
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

    def set_away(self, device: str, away: bool) -> None:
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

    def user_gone(self, user: str) -> None:
        """A user went offline (logout or grace expiry): their calls end."""
        for call in list(self.calls.values()):
            if call.has_user(user):
                self._lose(call)

    def end_all(self, reason: EndReason) -> None:
        for call in list(self.calls.values()):
            self._end(call, reason)

    def _lose(self, call: Call) -> None:
        if call.state == CallState.RINGING:
            log.info('📵 Call missed: %s → %s (connection lost)', call.caller, call.callee)
        else:
            who = ', '.join(sorted(call.away)) or 'a party'
            log.info('💔 Connection lost: %s → %s (%s did not come back)', call.caller, call.callee, who)
        self._end(call, EndReason.CONNECTION_LOST)

    # timers

    def _ring_timed_out(self, call: Call) -> None:
        if call.state == CallState.RINGING:
            log.info('📵 Call missed: %s → %s (no answer in %.0fs)', call.caller, call.callee, self.ring_timeout_s)
            self._end(call, EndReason.MISSED)

    def _media_timed_out(self, call: Call) -> None:
        if call.state == CallState.CONNECTING:
            log.warning('🎙️ Media never came up in call %s: %s → %s', call.id, call.caller, call.callee)
            self._end(call, EndReason.FAILED)

    # helpers

    def _resolve_glare(self, call: Call, device: str) -> Call:
        """Both called each other: the call that reached the server first survives, the second click answers it."""
        log.info('🔀 Call glare: %s and %s called each other; keeping %s', call.caller, call.callee, call.id)
        if call.leg_of(device) is None:
            call.legs[new_id('l')] = device
        return self.accept(call.id, call.callee, device)

    def _call_for(self, call_id: str, user: str) -> Call:
        call = self.calls.get(call_id)
        if call is None or not call.has_user(user):
            raise CallError('No such call.')  # same answer for both: ids of others' calls reveal nothing
        return call

    def _cancel_timer(self, call: Call) -> None:
        if call.timer is not None:
            call.timer.cancel()
            call.timer = None

    def _end(self, call: Call, reason: EndReason, by: str | None = None, notify: bool = True) -> None:
        self._cancel_timer(call)
        call.state = CallState.ENDED
        call.end_reason = reason
        call.ended_by = by
        call.ended_at = self.clock.now()
        self.calls.pop(call.id, None)
        if call.answered_at is not None:
            log.info(
                '📴 Call ended: %ds (%s → %s, %s)',
                round(call.duration(call.ended_at)),
                call.caller,
                call.callee,
                reason,
            )
        self.recorder.call_finished(call)
        if notify:
            self.delivery.call_changed(call)
