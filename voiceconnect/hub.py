"""The hub API: where a user's tabs are, who is online, and delivery of news to those tabs.

Two implementations share this contract: `InMemoryHub` (memory_hub.py) for one process, the embedded default,
and a Redis-backed hub for several processes. The hub owns its registries; the switchboard and the devices
only call these methods. It knows nothing of sign-in, grace periods or the call state machine: it is told
which sessions are open, which tabs are attached, and what to deliver.
"""

from typing import Any, Protocol

from .calls import Call
from .events import Event, OnlineUser, PresenceChange


class Endpoint(Protocol):
    """A tab as the hub delivers to it (a `Device`)."""

    @property
    def id(self) -> str: ...

    @property
    def user(self) -> str: ...

    def deliver(self, event: Event) -> None: ...

    def relay(self, message: dict[str, Any]) -> None: ...


class Hub(Protocol):
    # presence: a user is online while at least one of their sessions is open

    async def open_session(self, session: str, user: str) -> bool:
        """A session of `user` begins (a sign-in on a browser); True if that brought the user online."""
        ...

    async def close_session(self, session: str, user: str) -> bool:
        """The session ends (Log out, grace expiry); True if that took the user offline."""
        ...

    def is_online(self, user: str) -> bool: ...

    def online_users(self, excluding: str | None = None) -> tuple[OnlineUser, ...]:
        """Everyone online, sorted by name, with whether they are in a call."""
        ...

    # tabs

    async def attach(self, endpoint: Endpoint) -> None:
        """A tab joins its user's endpoints: it gets the user's news and rings for calls to them."""
        ...

    async def detach(self, device: str) -> None: ...

    async def set_connected(self, device: str, connected: bool) -> None:
        """The tab's socket dropped or came back (a dropped tab stays attached: it gets its news on return)."""
        ...

    async def devices_of(self, user: str) -> list[str]:
        """The attached tabs of `user`, in the order they attached: the tabs a call to them rings."""
        ...

    # delivery

    def deliver(self, user: str, event: Event) -> None:
        """To every attached tab of `user`."""
        ...

    def call_changed(self, call: Call) -> None:
        """Every tab of both parties gets the call as that tab sees it; who is in a call changes with it, and
        everyone else is told."""
        ...

    def relay(self, device: str, message: dict[str, Any]) -> None:
        """A signaling message to one tab's browser module."""
        ...

    def publish_presence(self, *changes: PresenceChange) -> None:
        """Tell every other user's tabs what changed: one small event each, whatever the number online."""
        ...
