"""What a tab hears from its connection service: the events page authors subscribe to."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from ..calls.views import CallView


class Presence(StrEnum):
    ONLINE = 'online'
    IN_CALL = 'in_call'
    DO_NOT_DISTURB = 'do_not_disturb'  # online, not taking calls
    OFFLINE = 'offline'


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


@dataclass(frozen=True)
class MessagesChanged:
    """A message was left for the user, or they deleted one (in one of their tabs): every tab shows the mailbox
    as it is now (Recent calls, the missed count)."""


Told = MissedCallsSeen | DoNotDisturbSet | MessagesChanged  # what one user's tabs are told about their own state
Event = (
    PresenceChanged | CallChanged | SignedOut | ServiceInterrupted | MissedCallsSeen | DoNotDisturbSet | MessagesChanged
)
