"""One call as one tab sees it: the view every tab (a browser document, a program) is given of a call it is part
of, made from the call record for that tab's user and device."""

from dataclasses import dataclass
from typing import Any, Literal

from .machine import Call, CallState, EndReason, LeaveReason, MemberState, shown_name

Role = Literal['caller', 'callee']


# A call that rang (or would have rung) you and ended unanswered: a missed call, until you have seen it.
MISSED_REASONS = frozenset(
    {EndReason.MISSED, EndReason.CANCELLED, EndReason.OFFLINE, EndReason.DO_NOT_DISTURB, EndReason.CONNECTION_LOST}
)

# An invitation into a group call that ended unanswered through no choice of the invitee's: a missed call too.
MISSED_INVITATIONS = frozenset(
    {
        LeaveReason.MISSED,
        LeaveReason.CANCELLED,
        LeaveReason.OFFLINE,
        LeaveReason.DO_NOT_DISTURB,
        LeaveReason.CONNECTION_LOST,
    }
)

# A call that nobody took through no choice of theirs at that moment: its caller may leave a message after it.
MESSAGE_MAY_FOLLOW = frozenset({EndReason.MISSED, EndReason.OFFLINE, EndReason.DO_NOT_DISTURB})


@dataclass(frozen=True)
class MemberView:
    """One person of a call as the others see them."""

    name: str
    state: MemberState
    muted: bool
    reconnecting: bool
    host: bool  # the one who placed the call (who may remove people)
    left_reason: LeaveReason | None = None  # once left: why (declined, missed, busy, hung_up, …)


@dataclass(frozen=True)
class LinkView:
    """One of this tab's peer connections in a group call: `offer` (this tab makes the offer) or `answer`; `live`
    once both ends joined (before, it connects while an invitation rings, and no microphone goes on it)."""

    id: str
    role: Literal['offer', 'answer']
    peer: str
    live: bool = True


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
    members: tuple[MemberView, ...] = ()  # everyone who is or was in it, in the order they came (the caller first)
    links: tuple[LinkView, ...] = ()  # this tab's peer connections beyond the caller-callee leg (group calls)
    my_state: MemberState | None = None  # this user's own place in it: ringing, joined, or left
    inviter: str | None = None  # an invitation into a call already answered: who invites (`alice invites you…`)
    others: tuple[str, ...] = ()  # …and who else is in it (`…to a call with bob`)
    invited_here: bool = False  # …and this tab rings for it
    my_left_reason: LeaveReason | None = None  # once this user left a group call (or its invitation): why
    media: str = 'mesh'  # 'bridge' once the call moved to the audio bridge (this tab's one link goes to `everyone`)

    @property
    def missed(self) -> bool:
        """A call to this user that ended without being answered (not declined by them): a missed call."""
        if self.role != 'callee' or self.answered_at is not None:
            return False
        if self.invitation_missed:  # the invitation ended, whether the call goes on or not
            return True
        return self.state == CallState.ENDED and self.my_left_reason is None and self.end_reason in MISSED_REASONS

    @property
    def invitation_missed(self) -> bool:
        """An invitation into a group call that ended unanswered through no choice of this user's."""
        return self.my_state == MemberState.LEFT and self.my_left_reason in MISSED_INVITATIONS

    @property
    def message_may_follow(self) -> bool:
        """This user placed it and nobody took it: they may leave a message (voicemail)."""
        unanswered = self.state == CallState.ENDED and self.answered_at is None
        return unanswered and self.role == 'caller' and self.end_reason in MESSAGE_MAY_FOLLOW

    @property
    def left_going_call(self) -> bool:
        """This user left a group call that others carry on (hung up, removed, lost): over for them."""
        return self.live and self.my_state == MemberState.LEFT and self.answered_at is not None

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

    @property
    def invited(self) -> bool:
        """This user is invited into a group call that is going on (their tabs ring; Accept joins it)."""
        return self.inviter is not None and self.my_state == MemberState.RINGING

    @property
    def rings_here(self) -> bool:
        """This tab rings: a call to this user (its leg), or an invitation into a group call."""
        return self.ringing_here or (self.invited and self.invited_here)

    @property
    def connects_here(self) -> bool:
        """This tab holds peer connections of the live call: it carries it, or it rings (and connects meanwhile)."""
        return (self.here or self.rings_here) and self.live

    @property
    def joined(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.members if m.state == MemberState.JOINED)

    @staticmethod
    def of(call: Call, user: str, device: str) -> 'CallView':
        if call.added(user):
            return CallView._of_added(call, user, device)
        role: Role = 'caller' if user == call.caller else 'callee'
        leg = call.leg_of(device) if role == 'callee' else call.answered_leg
        if call.bridged:
            leg = None  # the caller-callee peer connection went with the move: each tab has its link to the bridge
        elif call.live and call.is_group and not _leg_stands(call):
            leg = None  # the caller or the first callee left the group call that goes on: their leg is gone
        if role == 'caller':
            here = device == call.caller_device
        else:
            here = leg is not None and call.answered_leg in (None, leg)
        if call.is_group and (member := call.member(user)) is not None:  # the tab carrying their own stint
            here = member.device == device and (member.state == MemberState.JOINED or not call.live)
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
            answered_elsewhere=role == 'callee'
            and call.answered_leg is not None
            and not here
            and member_here(call, user),
            me_muted=user in call.muted,
            peer_muted=call.peer_of(user) in call.muted,
            failure=call.failure,
            peer_reconnecting=call.peer_of(user) in call.away,
            me_away=user in call.away,
            rings_until=call.rings_until if call.state == CallState.RINGING else None,
            created=call.created,
            **_group_part(call, user, device),
        )

    @staticmethod
    def _of_added(call: Call, user: str, device: str) -> 'CallView':
        """The view of someone added to the call: their peer is who invited them."""
        member = call.members[user]
        peer = member.invited_by or call.caller
        here = member.state == MemberState.JOINED and member.device == device
        return CallView(
            id=call.id,
            role='callee',
            peer=shown_name(peer),
            state=call.state,
            here=here or (member.state == MemberState.LEFT and not call.live and member.device == device),
            leg=None,
            answered_at=member.joined_at,
            ended_at=call.ended_at if member.left_at is None else member.left_at,
            end_reason=call.end_reason,
            ended_by_me=call.ended_by == user,
            answered_elsewhere=member.state == MemberState.JOINED and not here,
            me_muted=user in call.muted,
            peer_muted=peer in call.muted,
            peer_reconnecting=peer in call.away,
            me_away=user in call.away,
            rings_until=member.rings_until if member.state == MemberState.RINGING else None,
            created=call.created,
            **_group_part(call, user, device),
        )


def _leg_stands(call: Call) -> bool:
    """The caller-callee leg carries voice while both its ends are in the call (ringing, or joined)."""
    return all(call.has_user(user) for user in (call.caller, call.callee))


def member_here(call: Call, user: str) -> bool:
    """False for a first callee who left a group call that goes on (not `answered elsewhere`: gone)."""
    member = call.member(user)
    return member is None or member.state != MemberState.LEFT or not call.live


def _group_part(call: Call, user: str, device: str) -> dict[str, Any]:
    member = call.member(user)
    members = tuple(
        MemberView(
            name=shown_name(m.user),
            state=m.state,
            muted=m.user in call.muted,
            reconnecting=m.user in call.away,
            host=m.user == call.caller,
            left_reason=m.left_reason,
        )
        for m in call.members.values()
    )
    links = tuple(
        LinkView(
            id=link_id,
            role='offer' if link.offerer_device == device else 'answer',
            peer=shown_name(link.answerer if link.offerer_device == device else link.offerer),
            live=call.carries_voice(link),
        )
        for link_id, link in call.links_of(device).items()
    )
    invitation = member is not None and member.state == MemberState.RINGING and call.added(user)
    inviter = member.invited_by if invitation and member is not None else None
    others = tuple(shown_name(m.user) for m in call.joined() if m.user != inviter) if invitation else ()
    return {
        'members': members,
        'links': links,
        'my_state': member.state if member is not None else None,
        'inviter': shown_name(inviter) if inviter else None,
        'others': others,
        'invited_here': invitation and member is not None and device in member.ringing,
        'my_left_reason': member.left_reason if member is not None and (call.is_group or call.added(user)) else None,
        'media': call.media,
    }
