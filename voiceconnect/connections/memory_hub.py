"""The hub of one process: registries in memory, delivery by direct calls. The embedded default."""

from typing import Any

from ..calls.machine import Call
from .events import OnlineUser, Presence, PresenceChange, Told
from .hub import Endpoint, HubListener
from .local_tabs import LocalTabs


class InMemoryHub:
    """Everything is in this process, so nothing happens elsewhere: start, stop and the listener have no work."""

    def __init__(self) -> None:
        self._sessions: dict[str, set[str]] = {}  # user → their open sessions
        self._tabs = LocalTabs()
        self._in_calls: dict[str, str] = {}  # user → the live call they are in
        self._not_taking_calls: set[str] = set()  # online users with do not disturb on

    healthy = True  # nothing shared with other processes that could stop answering

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def listen(self, listener: HubListener) -> None:
        pass

    # presence

    async def open_session(self, session: str, user: str) -> bool:
        sessions = self._sessions.setdefault(user, set())
        sessions.add(session)
        return len(sessions) == 1

    async def close_session(self, session: str, user: str) -> bool:
        sessions = self._sessions.get(user, set())
        sessions.discard(session)
        if sessions:
            return False
        self._sessions.pop(user, None)
        self._not_taking_calls.discard(user)
        return True

    def is_online(self, user: str) -> bool:
        return user in self._sessions

    def online_users(self, excluding: str | None = None) -> tuple[OnlineUser, ...]:
        names = sorted(name for name in self._sessions if name != excluding)
        dnd = self._not_taking_calls
        return tuple(OnlineUser(name, name in self._in_calls, name in dnd) for name in names)

    def presence_of(self, user: str) -> Presence:
        if user not in self._sessions:
            return Presence.OFFLINE
        return OnlineUser(user, user in self._in_calls, user in self._not_taking_calls).presence

    async def set_do_not_disturb(self, user: str, on: bool) -> None:
        if not self.is_online(user) or on == (user in self._not_taking_calls):
            return
        (self._not_taking_calls.add if on else self._not_taking_calls.discard)(user)
        if user not in self._in_calls:  # in a call they show as in a call either way
            self.publish_presence(PresenceChange(user, self.presence_of(user)))

    # tabs

    async def attach(self, endpoint: Endpoint) -> None:
        self._tabs.add(endpoint)

    async def detach(self, user: str, device: str) -> None:
        self._tabs.remove(device)

    async def set_connected(self, device: str, connected: bool) -> None:
        self._tabs.set_connected(device, connected)

    async def devices_of(self, user: str) -> list[str]:
        return [endpoint.id for endpoint in self._tabs.of(user)]

    async def previous_document(self, user: str, reload_key: str, excluding: str) -> str | None:
        tabs = self._tabs.of(user)
        return next((t.id for t in tabs if t.reload_key == reload_key and t.id != excluding), None)

    @property
    def connected_tabs(self) -> int:
        return self._tabs.connected

    # delivery

    def call_changed(self, call: Call) -> None:
        self._tabs.call_changed(call, tuple(call.news_order()))
        if changes := self._follow(call):
            self.publish_presence(*changes)

    def relay(self, user: str, device: str, message: dict[str, Any]) -> None:
        self._tabs.relay(device, message)

    def tell(self, user: str, event: Told) -> None:
        self._tabs.tell(user, event)

    async def logged_out(self, token: str) -> None:
        pass

    def publish_presence(self, *changes: PresenceChange) -> None:
        self._tabs.presence_changed(changes)

    # helpers

    def _follow(self, call: Call) -> list[PresenceChange]:
        """Note who is in a call now; returns the presence changes of people still online."""
        changes = []
        present = call.present_users() if call.live else []
        for user in call.everyone():
            if user in present and self._in_calls.get(user) != call.id:
                if user not in self._in_calls:
                    changes.append(PresenceChange(user, Presence.IN_CALL))
                self._in_calls[user] = call.id
            elif user not in present and self._in_calls.get(user) == call.id:
                del self._in_calls[user]
                changes.append(PresenceChange(user, self.presence_of(user)))
        return [change for change in changes if self.is_online(change.name)]
