"""`Device`: what a page author holds, this tab's handle on its user's connection.

Who am I, who is online, my call, past calls, events, and the call actions. Every action goes through here, so
this is the boundary where the limits on how often a person may call or signal are applied, before the call
state machine sees anything. Pages never reach behind it.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from .. import observe
from ..calls.bridging import BridgeRouter
from ..calls.machine import SESSION_MARK, Call, CallError, CallState, Refusal
from ..calls.manager import CallManager, Recorder
from ..calls.signaling import handle_signal
from ..calls.signals import parse_signal
from ..calls.views import CallView
from ..clock import Clock
from ..people.accounts import NAME_PATTERN
from ..people.directory import People
from ..ratelimit import Limited, Limits, RateLimiter
from .events import DoNotDisturbSet, Event, MessagesChanged, MissedCallsSeen, OnlineUser, Person
from .hub import Hub

E = TypeVar('E', bound=Event)
T = TypeVar('T')
log = logging.getLogger('voiceconnect')
Handler = Callable[[Any], None]
# rejected signals shown and logged per tab; beyond that a stream of bad ones only makes a line a minute
REJECTIONS_SHOWN_PER_MINUTE = 5
SIGNED_OUT_HERE = 'You are signed out here.'
MAX_SEARCH = 32  # no name is longer (accounts.NAME_PATTERN): a longer query finds nobody, without a query
SHOWN_NAME = 20  # characters of a name that is nobody's, quoted, in a message back


def shown_name(name: str) -> str:
    """A name that is nobody's, as a message may show it: quoted, and only its start."""
    return repr(name[:SHOWN_NAME] + ('…' if len(name) > SHOWN_NAME else ''))


class TooManyTabs(CallError):
    """A tab or program socket refused: its user or address has as many open as allowed (the message says so)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Refusal.TOO_MANY)


class SignalsDropped(CallError):
    """This tab sent more signaling than allowed; the excess was dropped (said once a minute, not per message)."""


class SignalRejected(CallError, ValueError):
    """A signal the server refused, malformed or not allowed (a ValueError too, like pydantic's validation errors).
    `shown` says whether to tell the person: a stream of bad signals from one tab is told (and logged) a few times
    a minute, not once per message."""

    def __init__(self, message: str, shown: bool) -> None:
        super().__init__(message)
        self.shown = shown


class Tab(Protocol):
    """A browser tab as the core sees it (the web layer implements it over a NiceGUI client)."""

    def deliver(self, event: Event) -> None: ...

    def relay(self, message: dict[str, Any]) -> None: ...


class Contact(Protocol):
    """A built-in contact (the Sound test): always online, and answering each caller in a session of its own."""

    async def session_for(self, caller: str) -> str:
        """The user to ring for `caller`: the caller's own session of the contact, started if need be."""
        ...


class MessageTaker(Protocol):
    """The recorder of messages (voicemail): it answers a caller's call in a session of its own and keeps what they
    say as a message for `callee`, after their unanswered call `call_id`."""

    async def session_for(self, caller: str, callee: str, call_id: str) -> str:
        """The user to ring for `caller`'s message: their own session of the recorder, started if need be."""
        ...


class History(Recorder, Protocol):
    async def past_call(self, call_id: str, user: str) -> CallView | None: ...


class Guards:
    """The limits applied at the boundary, on the core's clock."""

    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self.attempts: RateLimiter[str] = RateLimiter(limits.calls_per_minute, 60.0, clock)  # per calling user
        # per device (one browser document); an excess is dropped before it is even parsed
        self.signals: RateLimiter[str] = RateLimiter(limits.signals_per_second, 1.0, clock, burst=limits.signal_burst)
        self.rejections_shown: RateLimiter[str] = RateLimiter(REJECTIONS_SHOWN_PER_MINUTE, 60.0, clock)
        # per user: each of these costs others work (a write and a message to every tab, a query, a whole list)
        self.dnd_changes: RateLimiter[str] = RateLimiter(limits.dnd_changes_per_minute, 60.0, clock)
        self.searches: RateLimiter[str] = RateLimiter(limits.searches_per_minute, 60.0, clock)
        self.list_refreshes: RateLimiter[str] = RateLimiter(limits.list_refreshes_per_minute, 60.0, clock)
        self.mutes: RateLimiter[str] = RateLimiter(limits.mutes_per_minute, 60.0, clock)
        self.refusals_logged: RateLimiter[str] = RateLimiter(1, 60.0, clock)  # per user: tabs refused, told once


class Board(Protocol):
    """The switchboard as a device sees it (switchboard.py)."""

    @property
    def calls(self) -> CallManager: ...

    @property
    def hub(self) -> Hub: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def history(self) -> History: ...

    @property
    def guards(self) -> Guards: ...

    @property
    def contacts(self) -> Mapping[str, Contact]: ...

    @property
    def people(self) -> People | None: ...

    @property
    def voicemail(self) -> MessageTaker | None: ...

    @property
    def bridge(self) -> BridgeRouter | None: ...

    def holds(self, device: 'Device') -> bool: ...

    async def check_session(self, device: 'Device') -> None:
        """Raises CallError if the device's session ended in the store (and ends it here)."""
        ...

    async def set_connected(self, device: 'Device', connected: bool) -> None: ...

    async def detach(self, device: 'Device') -> None: ...


class Device:
    """This tab's handle on its user's connection: who am I, who is online, my call, events, call actions."""

    def __init__(
        self,
        board: Board,
        device_id: str,
        user: str,
        tab: Tab,
        tab_key: str | None = None,
        browser: str = '',
        address: str = '',
    ) -> None:
        self._board = board
        self.id = device_id
        self.user = user
        self.tab = tab
        self.tab_key = tab_key  # names the browser tab across reloads (NiceGUI's tab id)
        self.browser = browser
        self.address = address  # the client address's limit key (ratelimit.address_key); '' for none
        self._handlers: dict[type, list[Handler]] = {}
        self._order = asyncio.Lock()

    @property
    def reload_key(self) -> str | None:
        """What a reload of this tab is recognised by: its tab key, scoped by browser (the same key sent from
        another browser, copied or forged, takes nothing over)."""
        return f'{self.browser}/{self.tab_key}' if self.tab_key else None

    # what the tab sees

    def now(self) -> float:
        """The server's time, e.g. for a call's running duration: `view.duration(device.now())`."""
        return self._board.clock.now()

    def online_users(self) -> tuple[OnlineUser, ...]:
        """Everyone else online, with whether they are in a call."""
        return self._board.hub.online_users(excluding=self.user)

    def list_online_users(self) -> tuple[OnlineUser, ...]:
        """`online_users()` as the person's page or program asks for it (the whole list, sent to them): at most
        `LIST_REFRESHES_PER_MINUTE`, then CallError saying when to ask again."""
        guards = self._board.guards
        self._count(guards.list_refreshes, 'online lists', 'list_refreshes', 'The online list was asked for too often')
        return self.online_users()

    @property
    def built_in_contacts(self) -> tuple[str, ...]:
        """The built-in contacts (the Sound test): always there to call, never busy."""
        return tuple(self._board.contacts)

    @property
    def call(self) -> CallView | None:
        """The user's live call as this tab sees it, if any."""
        call = self._board.calls.live_call_of(self.user)
        return self._view(call) if call else None

    async def past_call(self, call_id: str) -> CallView | None:
        """A finished call of this user from the history (e.g. after a server restart)."""
        return await self._board.history.past_call(call_id, self.user)

    async def recent_calls(self, limit: int = 50, before: float | None = None) -> list[CallView]:
        """This user's finished calls, newest first; `before` (the `created` of the last one shown) for more."""
        return await self._people().recent_calls(self.user, limit, before)

    async def missed_calls(self) -> int:
        """How many calls this user missed since they last saw them."""
        return await self._people().missed_count(self.user)

    async def mark_missed_calls_seen(self) -> None:
        """The user saw their missed calls: the count is cleared in every tab of theirs (MissedCallsSeen)."""
        await self._people().mark_missed_seen(self.user, self.now())
        self._board.hub.tell(self.user, MissedCallsSeen())

    @property
    def takes_messages(self) -> bool:
        """Whether a call that nobody answered offers its caller `Leave a message` (VOICEMAIL)."""
        people = self._board.people
        return self._board.voicemail is not None and people is not None and people.mailbox is not None

    async def delete_message(self, message_id: str) -> None:
        """Its sound and row go, and every tab of the user shows it gone (MessagesChanged); CallError if the user
        has no such message."""
        if not await self._people().delete_message(message_id, self.user):
            raise CallError('There is no such message.')
        self._board.hub.tell(self.user, MessagesChanged())

    async def find_people(self, prefix: str, *, asked: bool = True) -> list[Person]:
        """Anyone whose name starts with `prefix` (ignoring case), online or not, with their presence. A search the
        person `asked` for counts against `SEARCHES_PER_MINUTE` (CallError beyond); one the page repeats because
        presence changed does not."""
        if asked:
            self._count(self._board.guards.searches, 'searches', 'searches', 'You searched too often')
        if len(prefix.strip()) > MAX_SEARCH:
            return []
        names = await self._people().find(prefix)
        return [self.person(name) for name in names if name != self.user]

    async def contacts(self, *, asked: bool = True) -> list[Person]:
        """Everyone this user called or was called by, online or not; counted as a search when `asked`."""
        if asked:
            self._count(self._board.guards.searches, 'searches', 'searches', 'You searched too often')
        return [self.person(name) for name in await self._people().contacts(self.user)]

    def person(self, name: str) -> Person:
        """Someone with their presence now."""
        return Person(name, self._board.hub.presence_of(name))

    async def do_not_disturb(self) -> bool:
        return await self._people().do_not_disturb(self.user)

    async def set_do_not_disturb(self, on: bool) -> None:
        """Calls to this user end at once as missed calls while it is on; remembered for the user, shown to everyone
        (presence `do_not_disturb`) and to every tab of theirs (DoNotDisturbSet). At most `DND_CHANGES_PER_MINUTE`,
        then CallError saying when to try again."""
        people = self._people()
        guards = self._board.guards
        self._count(
            guards.dnd_changes, 'do not disturb changes', 'dnd_changes', 'You switched Do not disturb too often'
        )
        await self._in_order(self._set_do_not_disturb(people, on))

    async def _set_do_not_disturb(self, people: People, on: bool) -> None:
        await people.set_do_not_disturb(self.user, on)  # remembered, then shown: in the order they were asked
        await self._board.hub.set_do_not_disturb(self.user, on)
        self._board.hub.tell(self.user, DoNotDisturbSet(on))

    # events

    def on(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Subscribe to PresenceChanged, CallChanged or SignedOut; returns the unsubscribe function."""
        handlers = self._handlers.setdefault(event_type, [])
        handlers.append(handler)

        def unsubscribe() -> None:
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    def deliver(self, event: Event) -> None:
        for target in (self.tab.deliver, *self._handlers.get(type(event), [])):
            try:
                target(event)
            except Exception:  # one broken page handler must not keep the news from the others
                log.exception('an event handler of %s failed on %s', self.user, type(event).__name__)

    def relay(self, message: dict[str, Any]) -> None:
        self.tab.relay(message)

    # call actions: each returns the call as this tab sees it now, or raises CallError with a message for the person

    async def call_user(self, name: str) -> CallView:
        asked = time.perf_counter()
        self._check_attached()
        callee = name
        if (contact := self._board.contacts.get(name)) is None and not NAME_PATTERN.fullmatch(name):
            if SESSION_MARK in name:  # someone else's session of a contact is nobody to call
                raise CallError(f'{shown_name(name)} is not online.', Refusal.OFFLINE)
            raise CallError(f'There is nobody called {shown_name(name)}.', Refusal.NOT_FOUND)  # nobody can have it
        self._count(self._board.guards.attempts, 'calls', 'calls', 'You are calling too often')
        await self._acting()  # checked after the cheap checks: a flood of bad names costs no database query
        if contact is not None:
            callee = await contact.session_for(self.user)
        call = await self._in_order(self._board.calls.place_call(self.user, self.id, callee))
        if call.state == CallState.RINGING:  # rung: the callee's tabs have been handed the call
            observe.notify('call_rang', seconds=time.perf_counter() - asked)
        return self._view(call)

    async def leave_message(self, call_id: str) -> CallView:
        """After this user's call `call_id` that nobody answered (missed, offline, do not disturb): a call of its own
        to the recorder, which answers at once and keeps what they say (up to VOICEMAIL_MAX_S) for the callee, who
        is not rung. It counts against CALLS_PER_MINUTE like any call; CallError if no message may follow that call,
        or the callee's mailbox is full (MailboxFull)."""
        self._check_attached()
        taker, people = self._board.voicemail, self._people()
        if taker is None or people.mailbox is None:
            raise CallError('This server takes no messages.')
        self._count(self._board.guards.attempts, 'calls', 'calls', 'You are calling too often')
        await self._acting()
        callee = await people.mailbox.call_to_follow(call_id, self.user, self.now())
        await people.mailbox.check_room(callee)
        session = await taker.session_for(self.user, callee, call_id)
        return self._view(await self._in_order(self._board.calls.place_call(self.user, self.id, session)))

    async def add_person(self, call_id: str, name: str) -> CallView:
        """Invite `name` into this tab's call: an invitation is a call attempt (the same name check and the same
        CALLS_PER_MINUTE), and it rings or ends busy, offline or not taking calls as a call to them would."""
        self._check_attached()
        if not NAME_PATTERN.fullmatch(name):  # built-in contacts and sessions of them cannot be added
            raise CallError(f'There is nobody called {shown_name(name)} to add.', Refusal.NOT_FOUND)
        self._count(self._board.guards.attempts, 'calls', 'calls', 'You are calling too often')
        calls = await self._acting()
        return self._view(await self._in_order(calls.add(call_id, self.user, self.id, name)))

    async def remove_person(self, call_id: str, name: str) -> CallView:
        """The host takes `name` out of this tab's call."""
        return self._view(await self._in_order(self._calls().remove(call_id, self.user, self.id, name)))

    async def accept(self, call_id: str) -> CallView:
        calls = await self._acting()
        return self._view(await self._in_order(calls.accept(call_id, self.user, self.id)))

    # declining, hanging up and muting only end or quiet one's own call: no session check needed (the sweep ends
    # the calls of a session that ended within seconds anyway)

    async def decline(self, call_id: str) -> CallView:
        return self._view(await self._in_order(self._calls().decline(call_id, self.user, self.id)))

    async def hang_up(self, call_id: str) -> CallView:
        return self._view(await self._in_order(self._calls().hang_up(call_id, self.user, self.id)))

    async def set_muted(self, call_id: str, muted: bool) -> CallView:
        """At most `MUTES_PER_MINUTE` (each tells the tabs of both parties), then CallError saying when to retry."""
        self._count(self._board.guards.mutes, 'mutes', 'mutes', 'You muted and unmuted too often')
        return self._view(await self._in_order(self._calls().set_muted(call_id, self.user, self.id, muted)))

    async def signal(self, data: object) -> None:
        """A message from this tab's browser module. Beyond `SIGNALS_PER_SECOND` (after a burst of `SIGNAL_BURST`)
        messages are dropped unread: the first drop, and then one a minute, raises SignalsDropped; the others
        are dropped quietly. An invalid or unauthorised one raises SignalRejected."""
        if (limited := self._board.guards.signals.hit(self.id)) is not None:
            observe.notify('signal', result='dropped')
            observe.notify('rate_limited', limit='signals')
            self._drop_signal(limited)
            return
        try:
            signal = parse_signal(data)
            await self._in_order(
                handle_signal(self._calls(), self._board.hub.relay, self.user, self.id, signal, self._board.bridge)
            )
        except ValidationError as error:
            observe.notify('signal', result='rejected')
            raise self._rejected(error.errors()[0]['msg']) from error
        except CallError as error:
            observe.notify('signal', result='rejected')
            raise self._rejected(str(error)) from error
        observe.notify('signal', result='accepted')

    # the tab's connection

    async def set_connected(self, connected: bool) -> None:
        """The tab's socket dropped or came back."""
        await self._board.set_connected(self, connected)

    async def detach(self) -> None:
        """The tab is gone for good (closed, or its document replaced)."""
        await self._board.detach(self)

    # helpers

    async def _in_order(self, action: Awaitable[T]) -> T:
        """This tab's actions and signals take effect in the order they came. With a store shared by several
        processes a step waits for Redis, and a later message (the browser's report that media is up) could
        otherwise overtake an earlier one (its Accept) and be refused."""
        async with self._order:
            return await action

    def _view(self, call: Call) -> CallView:
        return CallView.of(call, self.user, self.id)

    def _people(self) -> People:
        if (people := self._board.people) is None:
            raise CallError('This server keeps no directory of people.')
        return people

    def _check_attached(self) -> None:
        if not self._board.holds(self):
            raise CallError(SIGNED_OUT_HERE, Refusal.SIGNED_OUT)

    def _calls(self) -> CallManager:
        self._check_attached()
        return self._board.calls

    async def _acting(self) -> CallManager:
        """A call action that opens a media path (placing, accepting): the tab is attached and its session still
        valid in the store, whatever ended it a moment ago in another process. Signals are not checked one by one:
        they only flow in a call that was placed and accepted so, and the session sweep ends the calls of a session
        that ended within seconds."""
        calls = self._calls()
        await self._board.check_session(self)
        return calls

    def _count(self, limiter: RateLimiter[str], what: str, limit: str, too_often: str) -> None:
        """One more of `what` by this user, or CallError (`too_often`, and when to try again) beyond its limit. A
        refused one does not count, so waiting is enough; a flood of refusals makes one log line a minute."""
        if (limited := limiter.hit(self.user)) is None:
            return
        observe.notify('rate_limited', limit=limit)
        if limited.report:
            log.warning(
                '⚠️ Rate limited: %s by %s (retry in %s)', what, self.user, limited.wait, extra={'user': self.user}
            )
        raise CallError(f'{too_often}. Try again in {limited.wait}.', Refusal.RATE_LIMITED)

    def _drop_signal(self, limited: Limited) -> None:
        if limited.report:
            log.warning(
                '⚠️ Rate limited: signaling from %s (%d dropped, retry in %s; reported once a minute)',
                self.user,
                limited.refused,
                limited.wait,
                extra={'user': self.user},
            )
            raise SignalsDropped('This tab sent too many call signals; some were dropped. The call may fail.')

    def _rejected(self, message: str) -> SignalRejected:
        limited = self._board.guards.rejections_shown.hit(self.id)
        if limited is None:
            log.warning('⚠️ Rejected signal from %s: %s', self.user, message, extra={'user': self.user})
        elif limited.report:
            log.warning(
                '⚠️ Rate limited: rejected signals from %s (%d not shown; reported once a minute)',
                self.user,
                limited.refused,
            )
        return SignalRejected(message, shown=limited is None)
