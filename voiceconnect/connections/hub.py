"""The hub API: where a user's tabs are, who is online, and delivery of news to those tabs.

Two implementations share this contract (tests/voiceconnect/test_hub_contract.py runs the same suite on both):
`InMemoryHub` (memory_hub.py) for one process, the embedded default, and `RedisHub` (cluster/redis_hub.py) for several
processes. The hub owns its registries; the switchboard and the devices only call these methods. It knows nothing
of sign-in, grace periods or the call state machine: it is told which sessions are open, which tabs are attached,
and what to deliver; what it learns from other processes it tells its `HubListener` (the switchboard).
"""

from typing import Any, Protocol

from ..calls.machine import Call
from .events import OnlineUser, Presence, PresenceChange, Told


class Endpoint(Protocol):
    """A tab as the hub delivers to it (a `Device`)."""

    @property
    def id(self) -> str: ...

    @property
    def user(self) -> str: ...

    @property
    def reload_key(self) -> str | None: ...

    def deliver(self, event: Any) -> None: ...

    def relay(self, message: dict[str, Any]) -> None: ...


class HubListener(Protocol):
    """What the hub tells the switchboard about things that happened elsewhere (only with several processes)."""

    async def session_logged_out(self, token_digest: str) -> None:
        """A session was logged out on another process: end it here too."""
        ...

    async def user_lost(self, user: str) -> None:
        """The process that served `user` died and nobody took them over within the grace: they are offline."""
        ...

    async def device_lost(self, user: str, device: str) -> None:
        """A tab's process died: its browser is on its way to another process (its call sees it reconnecting)."""
        ...

    async def device_gone(self, user: str, device: str) -> None:
        """A tab of a dead process whose browser did not come back within the grace: gone for good."""
        ...

    def shared_state_lost(self) -> None:
        """The store shared by the processes (Redis) stopped answering."""
        ...

    def shared_state_back(self) -> None: ...


class Hub(Protocol):
    @property
    def healthy(self) -> bool:
        """Whether what the hub shares with other processes answers (always, in one process)."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def listen(self, listener: HubListener) -> None: ...

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

    def publish_presence(self, *changes: PresenceChange) -> None:
        """Tell every other user's tabs what changed: one small event each, whatever the number online."""
        ...

    def presence_of(self, user: str) -> Presence:
        """One user's presence: online, in a call, do not disturb (online, not in a call) or offline."""
        ...

    async def set_do_not_disturb(self, user: str, on: bool) -> None:
        """Whether `user` takes calls, while they are online (the switchboard sets it again at each sign-in from
        what the user chose). Everyone else is told when it changes what they see (`do_not_disturb`, or back to
        `online` / `in_call`); it is forgotten when the user goes offline."""
        ...

    # tabs

    async def attach(self, endpoint: Endpoint) -> None:
        """A tab joins its user's endpoints: it gets the user's news and rings for calls to them."""
        ...

    async def detach(self, user: str, device: str) -> None:
        """The tab is gone (it may be held by another process, or a dead one)."""
        ...

    async def set_connected(self, device: str, connected: bool) -> None:
        """The tab's socket dropped or came back (a dropped tab stays attached: it gets its news on return)."""
        ...

    async def devices_of(self, user: str) -> list[str]:
        """The attached tabs of `user`, in the order they attached: the tabs a call to them rings."""
        ...

    async def previous_document(self, user: str, reload_key: str, excluding: str) -> str | None:
        """The tab of `user` with this reload key other than `excluding`: the document a reload replaces, wherever
        it was served."""
        ...

    @property
    def connected_tabs(self) -> int:
        """Tabs of this process whose socket is up."""
        ...

    # delivery

    def call_changed(self, call: Call) -> None:
        """Every tab of both parties gets the call as that tab sees it; who is in a call changes with it, and
        everyone else is told."""
        ...

    def relay(self, user: str, device: str, message: dict[str, Any]) -> None:
        """A signaling message to one tab (of `user`) of its browser module."""
        ...

    def tell(self, user: str, event: Told) -> None:
        """Every tab of `user` (in every process) gets `event`: what one tab did to the user's own state."""
        ...

    async def logged_out(self, token: str) -> None:
        """A session was logged out here: every other process ends it too."""
        ...
