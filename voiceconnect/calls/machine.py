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

    @property
    def live(self) -> bool:
        return self.state != CallState.ENDED

    @property
    def deadline(self) -> float | None:
        """When the call must have moved on by itself: answered (while ringing), media up (while connecting)."""
        if self.state == CallState.RINGING:
            return self.rings_until
        if self.state == CallState.CONNECTING:
            return self.media_until
        return None

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

    def to_json(self) -> str:
        """The call as data, for a store shared by several processes."""
        data: dict[str, Any] = asdict(self)
        for name in _SETS:
            data[name] = sorted(data[name])
        return json.dumps(data, separators=(',', ':'))

    @classmethod
    def from_json(cls, text: str | bytes) -> 'Call':
        data = json.loads(text)
        for name in _SETS:
            data[name] = set(data[name])
        data['state'] = CallState(data['state'])
        data['end_reason'] = EndReason(data['end_reason']) if data['end_reason'] else None
        return cls(**data)


_SETS = ('muted', 'away', 'media_up')
