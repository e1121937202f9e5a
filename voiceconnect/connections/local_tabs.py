"""The tabs attached in this process and delivery to them: what both hubs keep of their own process.

The in-memory hub delivers only through this; the Redis hub also delivers through it at once what it sends to
other processes, and what it hears from them.
"""

from typing import Any

from ..calls.machine import Call
from ..calls.views import CallView
from .events import CallChanged, PresenceChange, PresenceChanged, Told
from .hub import Endpoint


class LocalTabs:
    def __init__(self) -> None:
        self._endpoints: dict[str, Endpoint] = {}  # device → endpoint
        self._by_user: dict[str, dict[str, Endpoint]] = {}  # user → device → endpoint, in the order they attached
        self._connected: set[str] = set()

    # the registry

    def add(self, endpoint: Endpoint) -> bool:
        """A tab attached here (its socket up); True if it is its user's first tab in this process."""
        first_here = endpoint.user not in self._by_user
        self._endpoints[endpoint.id] = endpoint
        self._by_user.setdefault(endpoint.user, {})[endpoint.id] = endpoint
        self._connected.add(endpoint.id)
        return first_here

    def remove(self, device: str) -> bool:
        """The tab is gone from here; True if it was its user's last tab in this process."""
        self._connected.discard(device)
        if (endpoint := self._endpoints.pop(device, None)) is None:
            return False
        tabs = self._by_user[endpoint.user]
        del tabs[device]
        if tabs:
            return False
        del self._by_user[endpoint.user]
        return True

    def set_connected(self, device: str, connected: bool) -> None:
        if device in self._endpoints:
            (self._connected.add if connected else self._connected.discard)(device)

    def of(self, user: str) -> list[Endpoint]:
        """The user's tabs here, in the order they attached."""
        return list(self._by_user.get(user, {}).values())

    def users(self) -> list[str]:
        """The users with a tab here."""
        return list(self._by_user)

    def holds(self, device: str) -> bool:
        return device in self._endpoints

    @property
    def connected(self) -> int:
        """Tabs here whose socket is up."""
        return len(self._connected)

    # delivery

    def call_changed(self, call: Call, users: tuple[str, ...]) -> None:
        """The call as each tab of these users sees it."""
        for user in users:
            for endpoint in self.of(user):
                endpoint.deliver(CallChanged(CallView.of(call, user, endpoint.id)))

    def relay(self, device: str, message: dict[str, Any]) -> bool:
        """A signaling message to one tab; False if that tab is not here."""
        if (endpoint := self._endpoints.get(device)) is None:
            return False
        endpoint.relay(message)
        return True

    def tell(self, user: str, event: Told) -> None:
        for endpoint in self.of(user):
            endpoint.deliver(event)

    def presence_changed(self, changes: tuple[PresenceChange, ...]) -> None:
        """One small event to each tab, whatever the number online; a tab never hears about its own user."""
        everyone = PresenceChanged(changes)
        about = {change.name for change in changes}
        for user, tabs in list(self._by_user.items()):
            event = everyone
            if user in about:
                event = PresenceChanged(tuple(change for change in changes if change.name != user))
                if not event.changes:
                    continue
            for endpoint in list(tabs.values()):
                endpoint.deliver(event)
