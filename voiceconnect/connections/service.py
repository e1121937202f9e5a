"""The connection service: one per account signed in on a browser, owned by the user, not by a page.

Tabs attach to it and detach from it; a reload or a network blip only detaches a tab for a moment. The
service ends on `Log out`, or when none of its tabs has been connected for `RECONNECT_GRACE_S`. This class
holds that state and its grace timer; the switchboard (switchboard.py) decides what attaching, detaching and
ending mean for presence and calls.
"""

from ..calls.machine import new_id
from ..clock import Callback, Clock, Timer


class ConnectionService:
    def __init__(self, user: str, browser: str, token: str) -> None:
        self.id = new_id('s')  # the session as the hub knows it (never sent to a browser)
        self.user = user
        self.browser = browser
        self.token = token
        self.tabs: set[str] = set()  # attached devices
        self.connected: set[str] = set()  # attached devices whose socket is up
        self.ended = False
        self._grace: Timer | None = None

    def add_tab(self, device: str) -> None:
        self.tabs.add(device)

    def remove_tab(self, device: str) -> None:
        self.tabs.discard(device)
        self.connected.discard(device)

    def mark_connected(self, device: str, connected: bool) -> None:
        (self.connected.add if connected else self.connected.discard)(device)

    @property
    def grace_running(self) -> bool:
        return self._grace is not None

    def start_grace(self, clock: Clock, seconds: float, on_expiry: Callback) -> None:
        """No tab is connected: unless one comes back within `seconds`, `on_expiry` ends the service."""
        if self._grace is None and not self.ended:
            self._grace = clock.call_later(seconds, on_expiry)

    def stop_grace(self) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def close(self) -> list[str]:
        """The service ends: no more grace, no more tabs. Returns the tabs it had."""
        self.ended = True
        self.stop_grace()
        tabs = list(self.tabs)
        self.tabs.clear()
        self.connected.clear()
        return tabs
