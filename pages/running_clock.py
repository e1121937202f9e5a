"""A running clock: a call's duration (m:ss) or the seconds left to answer, counted by the browser. The server
sends a value when the call changes, never one per second, so an idle tab costs the server nothing."""

from typing import Any

from nicegui import ui

from . import format


class RunningClock(ui.element, component='running_clock.js'):
    def __init__(self, *, countdown: bool = False) -> None:
        super().__init__()
        self._props['countdown'] = countdown
        self._props['seconds'] = None

    def show(self, seconds: float | None) -> None:
        """Count on from `seconds` (None: show nothing)."""
        self._props['seconds'] = seconds

    def _displayed_contents(self, *, only_visible: bool) -> list[Any]:
        """What it shows when sent, for NiceGUI's simulated user (tests without a browser)."""
        seconds = self._props['seconds']
        if seconds is None:
            return []
        if self._props['countdown']:
            return [f'{max(0, round(seconds))} s left to answer']
        return [format.duration(seconds)]
