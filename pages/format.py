"""Words and numbers as people read them."""

import time
from datetime import datetime

from voiceconnect.calls.machine import EndReason, LeaveReason
from voiceconnect.calls.views import CallView
from voiceconnect.connections.events import Presence


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f'{seconds // 60}:{seconds % 60:02d}'


def who_calls(view: CallView) -> str:
    """Who rings: the caller's name, or for an invitation into a group call `alice invites you to a call with bob`."""
    if not view.invited:
        return view.peer
    return f'{view.inviter} invites you to a call with {names(view.others)}'


def names(people: tuple[str, ...]) -> str:
    """`bob`, `bob and carol`, `bob, carol and dave`."""
    return ' and '.join(filter(None, (', '.join(people[:-1]), people[-1]))) if people else 'nobody yet'


def outcome(view: CallView) -> str:
    """The headline of a call that is over, for the person looking at it."""
    reason, peer = view.end_reason, view.peer
    if view.my_left_reason == LeaveReason.REMOVED:
        return f'{host(view)} removed you from the call'
    if view.answered_at is not None:
        return 'Call ended'
    if view.role == 'caller':
        return {
            EndReason.DECLINED: f'{peer} declined',
            EndReason.BUSY: f'{peer} is busy',
            EndReason.OFFLINE: f'{peer} is offline',
            EndReason.DO_NOT_DISTURB: f'{peer} is not taking calls',
            EndReason.MISSED: 'No answer',
            EndReason.CANCELLED: 'Call cancelled',
            EndReason.FAILED: 'Call failed',
            EndReason.CONNECTION_LOST: 'Call ended: connection lost',
            EndReason.SERVER_RESTART: 'Call ended: the server restarted',
        }.get(reason, 'Call ended')  # type: ignore[arg-type]
    if reason == EndReason.DECLINED:
        return 'You declined the call'
    if reason == EndReason.FAILED:
        return 'Call failed'
    return f'Missed call from {peer}'


def host(view: CallView) -> str:
    """Who placed the call (the host, who may remove people)."""
    return next((m.name for m in view.members if m.host), view.peer)


def detail(view: CallView) -> str | None:
    """A second line that says why, when the reason is not the usual one."""
    return {
        EndReason.CONNECTION_LOST: f'connection lost: {"you" if view.me_away else view.peer} went away',
        EndReason.FAILED: view.failure or 'the audio connection could not be set up',
        EndReason.SERVER_RESTART: 'The server restarted, so the call ended.',
    }.get(view.end_reason)  # type: ignore[arg-type]


PRESENCE = {
    Presence.ONLINE: 'Online',
    Presence.IN_CALL: 'In a call',
    Presence.DO_NOT_DISTURB: 'Do not disturb',
    Presence.OFFLINE: 'Offline',
}


def row_outcome(view: CallView) -> str:
    """A past call in Recent calls: its duration, or in a word how it ended."""
    if view.answered_at is not None and view.ended_at is not None:
        return duration(view.duration(view.ended_at))
    if view.missed:
        return 'Missed'
    reason = view.end_reason
    if reason == EndReason.DECLINED:
        return 'Declined'
    if view.role == 'callee':
        return 'Busy' if reason == EndReason.BUSY else 'Failed'
    return {
        EndReason.MISSED: 'No answer',
        EndReason.CANCELLED: 'Cancelled',
        EndReason.BUSY: 'Busy',
        EndReason.OFFLINE: 'Offline',
        EndReason.DO_NOT_DISTURB: 'Not taking calls',
    }.get(reason, 'Failed')  # type: ignore[arg-type]


def when(timestamp: float, now: float | None = None) -> str:
    """When a call was, relative while recent ("2 min ago"), then a date (recent_calls.js says the same)."""
    seconds = (time.time() if now is None else now) - timestamp
    if seconds < 60:
        return 'just now'
    if seconds < 3600:
        return f'{int(seconds // 60)} min ago'
    if seconds < 86400:
        return f'{int(seconds // 3600)} h ago'
    return datetime.fromtimestamp(timestamp).strftime('%Y-%m-%d')
