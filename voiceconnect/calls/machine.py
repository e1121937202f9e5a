"""The server-authoritative call state machine (modelled on Matrix VoIP v1): its states, its end reasons, and the
call record itself. The actions that move calls through it are in manager.py.

    ringing ──accept──▶ connecting ──both sides report media──▶ active
       └──────────────────────┴───────── end(reason) ──────────────┴──▶ ended

`TRANSITIONS` and `END_REASONS` are the whole machine: which state may follow which, and for what reasons a
call may end in each live state. Every change of state checks them (`check_transition`).

A call has one caller device (the tab that placed it) and one *leg* per callee device: every tab of the
callee rings and pre-negotiates its own peer connection with the caller while ringing, with no audio sent
either way. The first `accept` wins; the other legs are told `answered_elsewhere` and dropped. Browsers
only ever see call ids and leg ids, never another user's device or session identifiers.

Group calls: a call has *members*, one per person in it (the caller first, then the callee, then whoever was
added), each with a state of their own: `MEMBER_TRANSITIONS` and `LEAVE_REASONS` are that machine.

    ringing ──accept──▶ joined ──leave(reason)──▶ left
       └────────── leave(reason) ───────────────▲

An invitation that cannot ring (busy, offline, do not disturb) is `left` with that reason in the step that made
it. The call ends when fewer than two members are joined once it was answered. `caller` and `callee` stay who
placed the call and whom they called first (the history's columns and the `alice → bob` of the log lines). The
caller-callee peer connection is the 1:1 leg; every other pair of joined members has a *link* (links), offered
by the one who came later (as the callee's tab offers the leg).
"""

import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


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
    OFFLINE = 'offline'  # the callee had no tab anywhere: nothing rang, they find a missed call at sign-in
    DO_NOT_DISTURB = 'do_not_disturb'  # the callee is not taking calls: nothing rang, a missed call for them


R = EndReason
TRANSITIONS: Mapping[CallState, frozenset[CallState]] = {
    CallState.RINGING: frozenset({CallState.CONNECTING, CallState.ENDED}),
    CallState.CONNECTING: frozenset({CallState.ACTIVE, CallState.ENDED}),
    CallState.ACTIVE: frozenset({CallState.ENDED}),
    CallState.ENDED: frozenset(),
}
# Ending for reasons that fit the state: a call nobody answered cannot be `completed`, an answered one cannot be
# `declined`, `cancelled`, `missed`, `busy`, `offline` or `do_not_disturb`. Failed media and lost connections can
# happen at any time.
_ANY_TIME = {R.FAILED, R.CONNECTION_LOST, R.SERVER_RESTART}
END_REASONS: Mapping[CallState, frozenset[EndReason]] = {
    CallState.RINGING: frozenset({R.DECLINED, R.CANCELLED, R.MISSED, R.BUSY, R.OFFLINE, R.DO_NOT_DISTURB, *_ANY_TIME}),
    CallState.CONNECTING: frozenset({R.COMPLETED, *_ANY_TIME}),
    CallState.ACTIVE: frozenset({R.COMPLETED, *_ANY_TIME}),
    CallState.ENDED: frozenset(),
}


class MemberState(StrEnum):
    RINGING = 'ringing'  # invited: their tabs ring
    JOINED = 'joined'  # in the call, on one device
    LEFT = 'left'


class LeaveReason(StrEnum):
    DECLINED = 'declined'
    MISSED = 'missed'  # no answer in RING_TIMEOUT_S
    BUSY = 'busy'  # in another call: nothing rang
    OFFLINE = 'offline'  # no tab anywhere: nothing rang
    DO_NOT_DISTURB = 'do_not_disturb'  # not taking calls: nothing rang
    CANCELLED = 'cancelled'  # the invitation was withdrawn (the host removed it, the call ended)
    CONNECTION_LOST = 'connection_lost'  # their tabs went away for good
    HUNG_UP = 'hung_up'
    REMOVED = 'removed'  # by the host
    FAILED = 'failed'  # their media never came up, or their microphone failed
    CALL_ENDED = 'call_ended'  # the call ended around them (the others left, the server stopped)


L = LeaveReason
MEMBER_TRANSITIONS: Mapping[MemberState, frozenset[MemberState]] = {
    MemberState.RINGING: frozenset({MemberState.JOINED, MemberState.LEFT}),
    MemberState.JOINED: frozenset({MemberState.LEFT}),
    MemberState.LEFT: frozenset(),
}
LEAVE_REASONS: Mapping[MemberState, frozenset[LeaveReason]] = {
    MemberState.RINGING: frozenset(
        {L.DECLINED, L.MISSED, L.BUSY, L.OFFLINE, L.DO_NOT_DISTURB, L.CANCELLED, L.CONNECTION_LOST}
    ),
    MemberState.JOINED: frozenset({L.HUNG_UP, L.REMOVED, L.CONNECTION_LOST, L.FAILED, L.CALL_ENDED}),
    MemberState.LEFT: frozenset(),
}


def check_member_transition(current: MemberState, target: MemberState, reason: LeaveReason | None = None) -> None:
    """Raise IllegalTransition unless a member may go `current → target` (for `reason`, when leaving)."""
    if target not in MEMBER_TRANSITIONS[current]:
        raise IllegalTransition(f'member {current} → {target}')
    if target == MemberState.LEFT and reason not in LEAVE_REASONS[current]:
        raise IllegalTransition(f'member {current} → left ({reason})')
    if target != MemberState.LEFT and reason is not None:
        raise IllegalTransition(f'member {current} → {target} has no leave reason')


# What an invitation still ringing, and a member still joined, become when the whole call ends for this reason.
RINGING_WHEN_CALL_ENDS: Mapping[EndReason, LeaveReason] = {
    R.DECLINED: L.DECLINED,
    R.MISSED: L.MISSED,
    R.BUSY: L.BUSY,
    R.OFFLINE: L.OFFLINE,
    R.DO_NOT_DISTURB: L.DO_NOT_DISTURB,
    R.CONNECTION_LOST: L.CONNECTION_LOST,
}  # any other reason: CANCELLED


class Refusal(StrEnum):
    """Why an action was refused, as a code a program reads (the message says it to a person)."""

    REFUSED = 'refused'  # not allowed now (not your call, not in that state, …)
    OFFLINE = 'offline'  # nobody to ring there
    NOT_FOUND = 'not_found'  # there is nobody by that name
    IN_CALL = 'in_call'  # hang up your current call first
    RATE_LIMITED = 'rate_limited'  # too often: the message says when to try again
    UNAVAILABLE = 'unavailable'  # the server cannot do it just now (its shared state does not answer)
    SIGNED_OUT = 'signed_out'
    TOO_MANY = 'too_many'  # as many tabs or sockets open as allowed
    MAILBOX_FULL = 'mailbox_full'  # the callee's mailbox holds as many messages (or bytes) as allowed
    YOURSELF = 'yourself'  # you cannot call or add yourself
    ALREADY_IN_CALL = 'already_in_call'  # that person is already in (or invited to) this call
    CALL_FULL = 'call_full'  # as many people as a call may hold (GROUP_MAX, or MESH_MAX without a bridge)
    NOT_ANSWERED = 'not_answered'  # add people once the call was answered
    NOT_HOST = 'not_host'  # only the one who placed the call may remove people


class CallError(Exception):
    """An action or signal that is not allowed; the message goes back to the one who sent it, `code` says why for
    a program."""

    def __init__(self, message: str, code: Refusal = Refusal.REFUSED) -> None:
        super().__init__(message)
        self.code = code


class ServiceUnavailable(CallError):
    """What this process shares with the others (Redis) does not answer just now: nothing was changed."""

    def __init__(self) -> None:
        super().__init__(
            'The server cannot reach its shared state just now. Try again in a moment.', Refusal.UNAVAILABLE
        )


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


# A built-in contact (the Sound test) answers each caller in a session of its own, named `<contact>/<caller>` so the
# calls of different callers never make it busy; no account name has a '/', so no person can be one. People see
# the contact's name.
SESSION_MARK = '/'


def contact_session(contact: str, caller: str) -> str:
    return f'{contact}{SESSION_MARK}{caller}'


# The recorder of messages (voicemail): a caller's message is a call of its own to their session of it. It rings
# nobody, and it is no row of the history: the message belongs to the unanswered call it follows. Like `Sound
# test` its name has a space, so no account can have it.
VOICEMAIL = 'Voice mail'


def is_voicemail(user: str) -> bool:
    return user.startswith(VOICEMAIL + SESSION_MARK)


def shown_name(user: str) -> str:
    """The name people see: a built-in contact's session is shown as the contact."""
    return user.split(SESSION_MARK, 1)[0]


def new_id(prefix: str) -> str:
    return f'{prefix}{secrets.token_urlsafe(12)}'


@dataclass
class Member:
    """One person in a call: invited (their tabs `ringing`), `joined` on one device, or `left` (and why)."""

    user: str
    state: MemberState
    invited_by: str | None = None  # None for the caller
    invited_at: float | None = None
    rings_until: float | None = None  # while ringing: when the invitation becomes missed
    device: str | None = None  # once joined: the tab carrying the call
    ringing: list[str] = field(default_factory=list)  # while ringing an added person: their tabs that ring
    joined_at: float | None = None
    left_at: float | None = None
    left_reason: LeaveReason | None = None

    @property
    def present(self) -> bool:
        return self.state != MemberState.LEFT


# A call past MESH_MAX rides a bridge (Janus's AudioBridge, voiceconnect/bridge): each joined member's device has one
# link, whose other end is this marker. A tab sees it as any link it offers on, to `everyone`; no tab has the
# device id `bridge` (tabs' ids are made up by the server), so no signal can be routed to a person through it.
BRIDGE_USER = 'everyone'
BRIDGE_DEVICE = 'bridge'
MAX_PARTICIPANT = 2**52  # Janus takes 64-bit ids, JavaScript's numbers are exact below 2**53


@dataclass
class Seat:
    """One person's place in the call's bridge room: the token Janus lets in, the participant id they join as (the
    same from any process, so a process taking over a tab can remove a stale one of a dead process)."""

    token: str
    participant: int


@dataclass
class BridgeRoom:
    """The call's AudioBridge room: its id, its secret (never sent to a tab) and each person's seat. Kept in the call
    record, so whichever process a tab's socket is on can join it, and whichever ends the call can destroy it."""

    id: int
    secret: str
    seats: dict[str, Seat] = field(default_factory=dict)  # user → seat

    @classmethod
    def new(cls, users: list[str]) -> 'BridgeRoom':
        room = cls(secrets.randbelow(MAX_PARTICIPANT - 1) + 1, secrets.token_urlsafe(24))
        for user in users:
            room.seat(user)
        return room

    def seat(self, user: str) -> Seat:
        """`user`'s seat, made on first asking."""
        if user not in self.seats:
            self.seats[user] = Seat(secrets.token_urlsafe(18), secrets.randbelow(MAX_PARTICIPANT - 1) + 1)
        return self.seats[user]


@dataclass
class Link:
    """One peer connection of the mesh between two joined members' devices: the later one offers. An invitee's
    ringing tab holds one to each joined member's tab while it rings, silent until Accept (`Call.carries_voice`).
    On a bridged call, each joined device's one link to the bridge (answerer BRIDGE_USER on BRIDGE_DEVICE)."""

    offerer: str  # user
    offerer_device: str
    answerer: str
    answerer_device: str

    @property
    def to_bridge(self) -> bool:
        return self.answerer_device == BRIDGE_DEVICE

    def end_of(self, device: str) -> str | None:
        """'offer' or 'answer' if `device` is one end of this link."""
        return 'offer' if device == self.offerer_device else 'answer' if device == self.answerer_device else None


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
    media_until: float | None = None  # when an answered call whose media never came up fails
    members: dict[str, Member] = field(default_factory=dict)  # user → member, in the order they came
    links: dict[str, Link] = field(default_factory=dict)  # link id → the mesh's peer connections beyond the leg
    former: list[Member] = field(default_factory=list)  # earlier stints of people who left and were added again
    media: str = 'mesh'  # 'mesh': a peer connection per pair; 'bridge': each joined device's one link to `room`
    room: BridgeRoom | None = None  # the bridge room, once the call moved to it

    @property
    def live(self) -> bool:
        return self.state != CallState.ENDED

    @property
    def call_deadline(self) -> float | None:
        """When the call must have moved on by itself: answered (while ringing), media up (while connecting)."""
        if self.state == CallState.RINGING:
            return self.rings_until
        if self.state == CallState.CONNECTING:
            return self.media_until
        return None

    @property
    def deadline(self) -> float | None:
        """The call's own deadline, or an invitation's that comes sooner (people are added once it was answered)."""
        answered = self.state != CallState.RINGING
        times = [m.rings_until for m in self.invited() if answered and m.rings_until is not None]
        if (own := self.call_deadline) is not None:
            times.append(own)
        return min(times, default=None)

    # members

    def member(self, user: str) -> Member | None:
        return self.members.get(user)

    def present_users(self) -> list[str]:
        """Who is in the call now, joined or ringing (who is busy because of it)."""
        if not self.members:  # a call record from before members (a rolling upgrade): its two people
            return [self.caller, self.callee]
        return [m.user for m in self.members.values() if m.present]

    def everyone(self) -> list[str]:
        """Everyone the call ever had (its two people, and whoever was added): whom its news is for."""
        return list(dict.fromkeys([self.caller, self.callee, *self.members]))

    def news_order(self) -> list[str]:
        """Everyone, those whose tabs ring first (a ring is the most urgent), then the callee and the caller."""
        return list(dict.fromkeys([*(m.user for m in self.invited()), self.callee, self.caller, *self.members]))

    def joined(self) -> list[Member]:
        return [m for m in self.members.values() if m.state == MemberState.JOINED]

    def invited(self) -> list[Member]:
        return [m for m in self.members.values() if m.state == MemberState.RINGING]

    def added(self, user: str) -> bool:
        """Whether `user` came in by an invitation to a call already answered (not the caller or first callee)."""
        return user not in (self.caller, self.callee) and user in self.members

    @property
    def is_group(self) -> bool:
        return len(self.members) > 2

    @property
    def bridged(self) -> bool:
        return self.media == 'bridge'

    def links_of(self, device: str) -> dict[str, Link]:
        return {lid: link for lid, link in self.links.items() if link.end_of(device) is not None}

    @property
    def callee_device(self) -> str | None:
        return self.legs.get(self.answered_leg) if self.answered_leg else None

    def has_user(self, user: str) -> bool:
        """Whether `user` is in the call now (joined, or their tabs ring)."""
        return user in self.present_users()

    def peer_of(self, user: str) -> str:
        return self.callee if user == self.caller else self.caller

    def leg_of(self, device: str) -> str | None:
        return next((leg for leg, d in self.legs.items() if d == device), None)

    def party_devices(self) -> set[str]:
        """Devices that may signal on this call now: the caller's, and the answering leg (or all ringing legs); once
        answered, every joined member's."""
        if self.answered_leg is not None:
            if not self.is_group:  # 1:1: the leg's two ends (the members' devices mirror them)
                return {self.caller_device, self.legs[self.answered_leg]}
            return self.joined_devices()
        return {self.caller_device, *self.legs.values()}

    def signaling_devices(self) -> set[str]:
        """The party devices, and an invitee's ringing tabs that connect their links while they ring."""
        return self.party_devices() | {d for m in self.invited() for d in m.ringing if self.links_of(d)}

    def joined_devices(self) -> set[str]:
        return {m.device for m in self.joined() if m.device is not None}

    def carries_voice(self, link: Link) -> bool:
        """Whether the microphones go on `link`: both its ends joined (a ringing invitee's links wait for Accept)."""
        joined = self.joined_devices() | {BRIDGE_DEVICE}
        return link.offerer_device in joined and link.answerer_device in joined

    def duration(self, now: float) -> float:
        if self.answered_at is None:
            return 0.0
        return (self.ended_at or now) - self.answered_at

    def to_json(self) -> str:
        """The call as data, for a store shared by several processes."""
        data: dict[str, Any] = asdict(self)
        for name in _SETS:
            data[name] = sorted(data[name])
        data['members'] = list(data['members'].values())  # a list keeps the order they came in on any reader
        return json.dumps(data, separators=(',', ':'))

    @classmethod
    def from_json(cls, text: str | bytes) -> 'Call':
        data = json.loads(text)
        for name in _SETS:
            data[name] = set(data[name])
        data['state'] = CallState(data['state'])
        data['end_reason'] = EndReason(data['end_reason']) if data['end_reason'] else None
        data['members'] = {m['user']: _member(m) for m in data.get('members', [])}
        data['links'] = {lid: Link(**link) for lid, link in data.get('links', {}).items()}
        data['former'] = [_member(m) for m in data.get('former', [])]
        if (room := data.get('room')) is not None:
            seats = {user: Seat(**seat) for user, seat in room['seats'].items()}
            data['room'] = BridgeRoom(room['id'], room['secret'], seats)
        return cls(**data)


_SETS = ('muted', 'away', 'media_up')


def _member(data: dict[str, Any]) -> Member:
    data['state'] = MemberState(data['state'])
    data['left_reason'] = LeaveReason(data['left_reason']) if data['left_reason'] else None
    return Member(**data)
