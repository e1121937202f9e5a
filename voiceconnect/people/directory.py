"""People: who there is to call (by name, online or not), and what each person chose and has not seen yet — do not
disturb, their recent calls, how many calls they missed. All of it is in the store, so it is the same in every
tab, browser and process of the user, and survives restarts. An account made with the name of a removed one starts
afresh: none of this carries over (the store's user state says since when the name's history counts).
"""

import dataclasses
from datetime import datetime

from ..calls.views import MISSED_REASONS, CallView
from .db import Store
from .history import past_call_view, utc
from .messages import Mailbox, StoredMessage

SEARCH_LIMIT = 20  # names shown for a search; typing more letters narrows it
CONTACTS_LIMIT = 50


class People:
    def __init__(self, store: Store, mailbox: Mailbox | None = None) -> None:
        self.store = store
        self.mailbox = mailbox  # None: no voicemail

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
        views = [view for row in rows if (view := past_call_view(row, user, members.get(row.id, ()))) is not None]
        return await self._with_messages(user, views)

    async def message(self, message_id: str, user: str) -> StoredMessage | None:
        """A message left for `user`; None for anyone else's, and for ids that are nobody's."""
        if self.mailbox is None:
            return None
        return await self.mailbox.message_for(message_id, user, await self._history_since(user))

    async def delete_message(self, message_id: str, user: str) -> bool:
        if self.mailbox is None:
            return False
        return await self.mailbox.delete(message_id, user, await self._history_since(user))

    async def _with_messages(self, user: str, views: list[CallView]) -> list[CallView]:
        """The calls to `user` with the message left after each, if any (only the callee sees a message)."""
        missed = [view.id for view in views if view.role == 'callee' and view.answered_at is None]
        if self.mailbox is None or not missed:
            return views
        messages = await self.store.messages_of_calls(missed)
        return [
            dataclasses.replace(view, message=found.id, message_s=found.duration_s)
            if view.role == 'callee' and (found := messages.get(view.id)) is not None
            else view
            for view in views
        ]

    async def _history_since(self, user: str) -> datetime | None:
        return (await self.store.user_state(user)).history_since
