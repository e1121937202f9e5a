"""One call as one tab sees it: the view every tab (a browser document, a program) is given of a call it is part
of, made from the call record for that tab's user and device."""

from dataclasses import dataclass
from typing import Literal

from .machine import Call, CallState, EndReason, shown_name

Role = Literal['caller', 'callee']


# A call that rang (or would have rung) you and ended unanswered: a missed call, until you have seen it.
MISSED_REASONS = frozenset(
    {EndReason.MISSED, EndReason.CANCELLED, EndReason.OFFLINE, EndReason.DO_NOT_DISTURB, EndReason.CONNECTION_LOST}
)

# A call that nobody took through no choice of theirs at that moment: its caller may leave a message after it.
MESSAGE_MAY_FOLLOW = frozenset({EndReason.MISSED, EndReason.OFFLINE, EndReason.DO_NOT_DISTURB})


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
    message: str | None = None  # from the history: the id of the message the caller left after it (voicemail)
    message_s: float | None = None  # and its length

    @property
    def missed(self) -> bool:
        """A call to this user that ended without being answered (not declined by them): a missed call."""
        unanswered = self.state == CallState.ENDED and self.answered_at is None
        return unanswered and self.role == 'callee' and self.end_reason in MISSED_REASONS

    @property
    def message_may_follow(self) -> bool:
        """This user placed it and nobody took it: they may leave a message (voicemail)."""
        unanswered = self.state == CallState.ENDED and self.answered_at is None
        return unanswered and self.role == 'caller' and self.end_reason in MESSAGE_MAY_FOLLOW

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
