"""A running clock: a call's duration (m:ss) or the seconds left to answer, counted by the browser. The server
sends a value when the call changes, never one per second, so an idle tab costs the server nothing."""

from web.nicegui_fixes.page_elements import ShownText

from . import format


class RunningClock(ShownText, component='running_clock.js'):
    def __init__(self, *, countdown: bool = False) -> None:
        super().__init__()
        self._props['countdown'] = countdown
        self._props['seconds'] = None

    def show(self, seconds: float | None) -> None:
        """Count on from `seconds` (None: show nothing)."""
        self._props['seconds'] = seconds

    def shown_text(self) -> list[str | None]:
        """What it shows when sent, for NiceGUI's simulated user (tests without a browser)."""
        seconds = self._props['seconds']
        if seconds is None:
            return []
        if self._props['countdown']:
            return [f'{max(0, round(seconds))} s left to answer']
        return [format.duration(seconds)]
