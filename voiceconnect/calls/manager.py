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
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .. import observe
from ..clock import Clock
from ..logs import call_fields
from .machine import Call, CallError, CallState, EndReason, Refusal, check_transition, new_id
from .signals import MEDIA_FAILURES, MediaFailure
from .store import CallStore, CallTx, MemoryCallStore

log = logging.getLogger('voiceconnect')
T = TypeVar('T')
DEADLINE_SLACK_S = 0.01  # timers run on the loop's clock, deadlines are wall-clock time


class Delivery(Protocol):
    """Where the call manager's news goes, and which devices a call rings."""

    async def devices_of(self, user: str) -> list[str]: ...

    async def is_user(self, name: str) -> bool: ...

    def not_taking_calls(self, user: str) -> bool: ...

    def call_changed(self, call: Call) -> None: ...


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
    ) -> None:
        self.delivery = delivery
        self.clock = clock
        self.recorder = recorder
        self.ring_timeout_s = ring_timeout_s
        self.media_timeout_s = media_timeout_s
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
        return {user for call in self.calls.values() for user in (call.caller, call.callee)}

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
                raise CallError('Hang up your current call first.', Refusal.IN_CALL)
            now = self.clock.now()
            call = Call(id=new_id('c'), caller=caller, callee=callee, caller_device=caller_device, created=now)
            if await tx.of_user(callee) is not None:
                out.then(lambda: self.recorder.call_created(call))
                self._end(tx, out, call, EndReason.BUSY, by=callee)
                return call
            devices = await self.delivery.devices_of(callee)
            if not devices or self.delivery.not_taking_calls(callee):  # a missed call for them, rung nowhere
                if not devices and not await self.delivery.is_user(callee):
                    raise CallError(f'There is nobody called {callee}.', Refusal.NOT_FOUND)
                out.then(lambda: self.recorder.call_created(call))
                self._end(tx, out, call, EndReason.DO_NOT_DISTURB if devices else EndReason.OFFLINE)
                return call
            for device in devices:
                call.legs[new_id('l')] = device
            call.rings_until = now + self.ring_timeout_s
            tx.save(call)
            out.log(logging.INFO, '📞 Call initiated: %s → %s', caller, callee, extra=_fields(call))
            out.then(lambda: self.recorder.call_created(call))
            self._tell(out, call)
            return call

        return await self._transact(step)

    async def accept(self, call_id: str, user: str, device: str) -> Call:
        async def step(tx: CallTx, out: Outcome) -> Call:
            return self._accept(tx, out, await self._call_for(tx, call_id, user), user, device)

        return await self._transact(step)

    async def decline(self, call_id: str, user: str, device: str) -> Call:
        async def step(tx: CallTx, out: Outcome) -> Call:
            call = await self._call_for(tx, call_id, user)
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
            reason = EndReason.CANCELLED if call.state == CallState.RINGING else EndReason.COMPLETED
            self._end(tx, out, call, reason, by=user)
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
        if cached is not None and cached.has_user(user) and device in cached.party_devices():
            return cached

        async def step(tx: CallTx, out: Outcome) -> Call:
            return await self._party_call(tx, call_id, user, device)

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
        async def step(tx: CallTx, out: Outcome) -> None:
            call = await self._party_call(tx, call_id, user, device)
            call.failure = f'{user}: {MEDIA_FAILURES[reason]}'
            self._end(tx, out, call, EndReason.FAILED, by=user, why=f'Media failed for {user}', detail=reason)

        await self._transact(step)

    # what happens to parties' connections (each names the device's user: calls are found by their people)

    async def device_gone(self, user: str, device: str, deliberate: bool = False) -> None:
        """A tab is gone for good (or logged out, `deliberate`): drop its ringing leg, end the call it carried."""

        async def step(tx: CallTx, out: Outcome) -> None:
            call = await tx.of_user(user)
            if call is None or device not in call.party_devices():
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
            if old == call.caller_device:
                call.caller_device = new
                renewed = list(call.legs)
            elif (leg := call.leg_of(old)) is not None:
                call.legs[leg] = new
                if call.answered_leg not in (None, leg):
                    tx.save(call)
                    return  # a tab that only shows "answered elsewhere": nothing to renegotiate
                renewed = [leg]
            else:
                return
            for leg in renewed:
                fresh = new_id('l')
                call.legs[fresh] = call.legs.pop(leg)
                if call.answered_leg == leg:
                    call.answered_leg = fresh
            call.media_up.clear()
            party = call.caller if new == call.caller_device else call.callee
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
            if call is None or device not in (call.caller_device, call.callee_device) or away == (user in call.away):
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
            if (call := await tx.of_user(user)) is not None:
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
            if self.clock.now() < call.deadline - DEADLINE_SLACK_S:  # a timer may fire a hair early: wait again
                tx.save(call)
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

    async def _call_for(self, tx: CallTx, call_id: str, user: str) -> Call:
        call = await tx.get(call_id)
        if call is None or not call.has_user(user):
            raise CallError('No such call.')  # same answer for both: ids of others' calls reveal nothing
        return call

    async def _party_call(self, tx: CallTx, call_id: str, user: str, device: str) -> Call:
        call = await self._call_for(tx, call_id, user)
        if device not in call.party_devices():
            raise CallError('You are not a party of this call here.')
        return call

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
    ) -> None:
        """The one way a call ends: the reason is set, the outcome logged, the row written, both sides told.
        `why` and `detail` complete the outcome line where the reason alone does not say enough."""
        check_transition(call.state, CallState.ENDED, reason)
        _log_outcome(out, call, reason, why, detail)
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


def _fields(call: Call, **more: Any) -> dict[str, Any]:
    """The fields of a line about this call, for machine-readable logs (LOG_FORMAT=json)."""
    return call_fields(call.caller, call.callee, call.id, **more)
