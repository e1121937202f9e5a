"""What a tab hears from its connection service: the events page authors subscribe to."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from .calls import Call, CallState, EndReason
from .store import CallRow

Role = Literal['caller', 'callee']


@dataclass(frozen=True)
class OnlineUser:
    name: str
    in_call: bool


@dataclass(frozen=True)
class CallView:
    """One call as one tab sees it. `here` is whether this tab carries the call's audio."""

    id: str
    role: Role
    peer: str
    state: CallState
    here: bool
    leg: str | None  # this tab's leg while ringing or answered here (callee side)
    answered_at: float | None
    ended_at: float | None
    end_reason: EndReason | None
    ended_by_me: bool
    answered_elsewhere: bool
    me_muted: bool
    peer_muted: bool
    failure: str | None = None  # why the call failed, in words (e.g. the microphone was refused)
    peer_reconnecting: bool = False  # the peer's tab lost its connection for now (a blip, a reload)
    rings_until: float | None = None  # while ringing: when it becomes missed

    @property
    def live(self) -> bool:
        return self.state != CallState.ENDED

    @property
    def duration(self) -> float:
        """Seconds since the answer, up to the end (0 if never answered)."""
        if self.answered_at is None:
            return 0.0
        return (self.ended_at or time.time()) - self.answered_at

    @property
    def ringing_here(self) -> bool:
        return self.state == CallState.RINGING and self.role == 'callee' and self.leg is not None

    @staticmethod
    def of(call: Call, user: str, device: str) -> 'CallView':
        role: Role = 'caller' if user == call.caller else 'callee'
        leg = call.leg_of(device) if role == 'callee' else call.answered_leg
        if role == 'caller':
            here = device == call.caller_device
        else:
            here = leg is not None and call.answered_leg in (None, leg)
        return CallView(
            id=call.id,
            role=role,
            peer=call.peer_of(user),
            state=call.state,
            here=here,
            leg=leg,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            end_reason=call.end_reason,
            ended_by_me=call.ended_by == user,
            answered_elsewhere=role == 'callee' and call.answered_leg is not None and not here,
            me_muted=user in call.muted,
            peer_muted=call.peer_of(user) in call.muted,
            failure=call.failure,
            peer_reconnecting=call.peer_of(user) in call.away,
            rings_until=call.rings_until if call.state == CallState.RINGING else None,
        )


def _timestamp(moment: datetime | None) -> float | None:
    # SQLite hands datetimes back without their zone; they were stored in UTC
    return moment.replace(tzinfo=moment.tzinfo or UTC).timestamp() if moment is not None else None


def past_call_view(row: CallRow, user: str) -> CallView | None:
    """A finished call from the database, as `user` sees it (None if they were not in it)."""
    if user not in (row.caller, row.callee) or row.ended is None:
        return None
    return CallView(
        id=row.id,
        role='caller' if user == row.caller else 'callee',
        peer=row.callee if user == row.caller else row.caller,
        state=CallState.ENDED,
        here=False,
        leg=None,
        answered_at=_timestamp(row.answered),
        ended_at=_timestamp(row.ended),
        end_reason=EndReason(row.end_reason) if row.end_reason else None,
        ended_by_me=False,
        answered_elsewhere=False,
        me_muted=False,
        peer_muted=False,
    )


@dataclass(frozen=True)
class PresenceChanged:
    online: tuple[OnlineUser, ...]  # everyone online but the tab's own user, sorted by name


@dataclass(frozen=True)
class CallChanged:
    call: CallView


@dataclass(frozen=True)
class SignedOut:
    reason: Literal['logout', 'expired']


Event = PresenceChanged | CallChanged | SignedOut
