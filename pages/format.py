"""Words and numbers as people read them."""

from voiceconnect.calls import EndReason
from voiceconnect.events import CallView


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f'{seconds // 60}:{seconds % 60:02d}'


def outcome(view: CallView) -> str:
    """The headline of a call that is over, for the person looking at it."""
    reason, peer = view.end_reason, view.peer
    if view.answered_at is not None:
        return 'Call ended'
    if view.role == 'caller':
        return {
            EndReason.DECLINED: f'{peer} declined',
            EndReason.BUSY: f'{peer} is busy',
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


def detail(view: CallView) -> str | None:
    """A second line that says why, when the reason is not the usual one."""
    return {
        EndReason.CONNECTION_LOST: f'connection lost: {"you" if view.me_away else view.peer} went away',
        EndReason.FAILED: view.failure or 'the audio connection could not be set up',
        EndReason.SERVER_RESTART: 'The server restarted, so the call ended.',
    }.get(view.end_reason)  # type: ignore[arg-type]
