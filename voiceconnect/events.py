"""What a tab hears from its connection service: the events page authors subscribe to."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from .calls import Call, CallState, EndReason, shown_name

Role = Literal['caller', 'callee']


class Presence(StrEnum):
    ONLINE = 'online'
    IN_CALL = 'in_call'
    DO_NOT_DISTURB = 'do_not_disturb'  # online, not taking calls
    OFFLINE = 'offline'


# A call that rang (or would have rung) you and ended unanswered: a missed call, until you have seen it.
MISSED_REASONS = frozenset(
    {EndReason.MISSED, EndReason.CANCELLED, EndReason.OFFLINE, EndReason.DO_NOT_DISTURB, EndReason.CONNECTION_LOST}
)


@dataclass(frozen=True)
class OnlineUser:
    name: str
    in_call: bool
    do_not_disturb: bool = False

    @property
    def presence(self) -> Presence:
        if self.in_call:
            return Presence.IN_CALL
        return Presence.DO_NOT_DISTURB if self.do_not_disturb else Presence.ONLINE


@dataclass(frozen=True)
class Person:
    """Someone found by name (online or not)."""

    name: str
    presence: Presence


@dataclass(frozen=True)
class PresenceChange:
    name: str
    presence: Presence


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
    me_away: bool = False  # this user's call tab lost its connection (at the end: the call was lost on this side)
    rings_until: float | None = None  # while ringing: when it becomes missed
    created: float | None = None  # when it was placed

    @property
    def missed(self) -> bool:
        """A call to this user that ended without being answered (not declined by them): a missed call."""
        unanswered = self.state == CallState.ENDED and self.answered_at is None
        return unanswered and self.role == 'callee' and self.end_reason in MISSED_REASONS

    @property
    def live(self) -> bool:
        return self.state != CallState.ENDED

    def duration(self, now: float) -> float:
        """Seconds from the answer to the end, or to `now` while it lasts (0 if never answered)."""
        if self.answered_at is None:
            return 0.0
        return (self.ended_at or now) - self.answered_at

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
            peer=shown_name(call.peer_of(user)),
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
            me_away=user in call.away,
            rings_until=call.rings_until if call.state == CallState.RINGING else None,
            created=call.created,
        )


@dataclass(frozen=True)
class PresenceChanged:
    """Who came online, went offline, or started or stopped a call (a call's start changes both its people at
    once). A tab's own user is never in it; the whole list is `Device.online_users()`, read when a page is built."""

    changes: tuple[PresenceChange, ...]


@dataclass(frozen=True)
class CallChanged:
    call: CallView


# why a tab was signed out: `logout` (Log out, here or in another tab of the session), `expired` (no tab connected
# for RECONNECT_GRACE_S: the session itself is still valid), `revoked` (the session was ended elsewhere: a new
# password, the account's removal, too many newer sessions), `session_expired` (too old, or unused too long)
SignOutReason = Literal['logout', 'expired', 'revoked', 'session_expired']


@dataclass(frozen=True)
class SignedOut:
    reason: SignOutReason


@dataclass(frozen=True)
class ServiceInterrupted:
    """The server lost (True) or regained (False) what it shares with its other processes: until it is back,
    calls cannot be placed or answered."""

    interrupted: bool


@dataclass(frozen=True)
class MissedCallsSeen:
    """The user saw their missed calls (in one of their tabs): every tab clears its count."""


@dataclass(frozen=True)
class DoNotDisturbSet:
    """The user switched do not disturb on or off (in one of their tabs): every tab shows it."""

    on: bool


Event = PresenceChanged | CallChanged | SignedOut | ServiceInterrupted | MissedCallsSeen | DoNotDisturbSet
