"""What a screen reader is told as a call goes on: two `aria-live` regions in the frame every page shares, one polite
(a call connected, ended, missed; the other side reconnecting) and one assertive (a call ringing, which must
interrupt). Short sentences, each said once: the running clocks are not live regions, so no second is announced.
The browser module has a third, for its own news while the server may be away (`Reconnecting…`, `Connection back`).
"""

from nicegui import ui

from voiceconnect.calls.machine import CallState
from voiceconnect.calls.views import CallView

from . import format

# In the page for screen readers, not drawn; the sentence is the region's CSS-generated content (root.py's HEAD), in
# the accessibility tree but not the page's text, so it never doubles a visible text (`Call ended`) for a find-by-text.
SR_ONLY = 'vc-sr-only vc-say'
SAID = 'data-say'


class Announcer:
    def __init__(self) -> None:
        self.polite = ui.element().classes(SR_ONLY).props('id=vc-announce role=status aria-live=polite aria-atomic')
        self.urgent = ui.element().classes(SR_ONLY).props('id=vc-announce-urgent aria-live=assertive aria-atomic')
        self.polite.mark('announce')
        self.urgent.mark('announce-urgent')
        self.said: dict[str, str] = {}  # call id → the last moment of it announced

    def say(self, text: str, *, urgent: bool = False) -> None:
        region = self.urgent if urgent else self.polite
        # the same sentence again (a second missed call from alice) must still be a change to be announced
        region.props[SAID] = text if region.props.get(SAID) != text else text + '\u00a0'

    def call_changed(self, view: CallView) -> None:
        """Announce the moment `view` is at, once per moment; a call first seen already over is not news."""
        moment = self._moment(view)
        before = self.said.get(view.id)
        if moment is None or moment == before or (before is None and view.state == CallState.ENDED):
            return
        self.said[view.id] = moment
        if moment == 'ringing':
            self.say(
                f'Incoming call: {format.who_calls(view)}' if view.invited else f'Incoming call from {view.peer}',
                urgent=True,
            )
        elif moment == 'calling':
            self.say(f'Calling {view.peer}…')
        elif moment == 'active':
            self.say(f'Call with {view.peer} connected' if before != 'peer away' else f'{view.peer} is back')
        elif moment == 'peer away':
            self.say(f'Reconnecting… {view.peer} lost the connection for a moment')
        elif moment == 'ended':
            self.say(ended(view))

    @staticmethod
    def _moment(view: CallView) -> str | None:
        if view.state == CallState.ENDED:
            return 'ended'
        if view.rings_here and view.invited:  # into a group call going on
            return 'ringing'
        if view.state == CallState.RINGING:
            return 'ringing' if view.ringing_here else 'calling' if view.role == 'caller' else None
        if not view.here or view.state != CallState.ACTIVE:
            return None
        return 'peer away' if view.peer_reconnecting else 'active'


def ended(view: CallView) -> str:
    """`Call ended, 1:23`, or the outcome (`Missed call from alice`, `bob declined`, `No answer`)."""
    if view.answered_at is not None and view.ended_at is not None:
        return f'Call ended, {format.duration(view.duration(view.ended_at))}'
    return format.outcome(view)
