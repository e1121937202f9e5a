"""People: who there is to call (by name, online or not), and what each person chose and has not seen yet — do not
disturb, their recent calls, how many calls they missed. All of it is in the store, so it is the same in every
tab, browser and process of the user, and survives restarts. An account made with the name of a removed one starts
afresh: none of this carries over (the store's user state says since when the name's history counts).
"""

from datetime import datetime

from ..calls.views import MISSED_REASONS, CallView
from .db import Store
from .history import past_call_view, utc

SEARCH_LIMIT = 20  # names shown for a search; typing more letters narrows it
CONTACTS_LIMIT = 50


class People:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def find(self, prefix: str, limit: int = SEARCH_LIMIT) -> list[str]:
        """Names that start with `prefix`, ignoring case."""
        prefix = prefix.strip()
        return await self.store.find_users(prefix, limit) if prefix else []

    async def exists(self, name: str) -> bool:
        """Whether someone has exactly this name (calls and missed calls are kept under the name as spelled)."""
        row = await self.store.find_user(name)
        return row is not None and row.name == name

    async def contacts(self, user: str, limit: int = CONTACTS_LIMIT) -> list[str]:
        """Everyone `user` called or was called by."""
        return await self.store.contacts(user, limit, since=await self._history_since(user))

    async def do_not_disturb(self, user: str) -> bool:
        return (await self.store.user_state(user)).do_not_disturb

    async def set_do_not_disturb(self, user: str, on: bool) -> None:
        await self.store.set_user_state(user, do_not_disturb=on)

    async def missed_count(self, user: str) -> int:
        """Calls to `user` that ended unanswered since they last saw their missed calls."""
        state = await self.store.user_state(user)
        return await self.store.count_missed(user, sorted(MISSED_REASONS), state.missed_seen, state.history_since)

    async def mark_missed_seen(self, user: str, now: float) -> None:
        await self.store.set_user_state(user, missed_seen=utc(now))

    async def recent_calls(self, user: str, limit: int, before: float | None = None) -> list[CallView]:
        """The user's finished calls, newest first; `before` (the `created` of the last one shown) for more."""
        since = await self._history_since(user)
        rows = await self.store.recent_calls(user, limit, utc(before) if before is not None else None, since)
        members = await self.store.members_of([row.id for row in rows])
        return [view for row in rows if (view := past_call_view(row, user, members.get(row.id, ()))) is not None]

    async def _history_since(self, user: str) -> datetime | None:
        return (await self.store.user_state(user)).history_since
