"""Programs as participants: a program (the Python voice client, a bot) signs in with its user's name and password
and holds a socket that is, to the core, one more tab of that user.

It gets a session the way the sign-in form does (the same limits and lockouts), then connects with the session
token; each connection attaches a `Device` to the user's connection service, exactly like a browser document.
So it makes the user online, rings and is rung, hears `answered elsewhere`, and every action goes through the
same `Device` methods: call-attempt and signaling limits, the state machine, and the authority checks (identity is
the device the message arrived on, never anything in the message). A dropped socket is a tab whose socket dropped:
the user stays online and in the call for `RECONNECT_GRACE_S`, and a program reconnecting with the same
`client_key` takes its calls over like a reloaded tab; one that does not come back within that time is gone, as a
browser tab's closed page is. A session holds at most `PROGRAM_SOCKETS_PER_SESSION` sockets, and each counts in its
user's and address's tabs. Logging out ends the session everywhere it is used.

The web layer (web/program_socket.py) carries this over a socket.io namespace; this module knows no transport.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import wire
from ..calls.machine import CallError, new_id
from ..calls.signals import CallId
from ..calls.views import CallView
from ..clock import Timer
from ..connections.device import Device, SignalRejected, SignalsDropped, TooManyTabs
from ..connections.events import CallChanged, Event, PresenceChanged, ServiceInterrupted, SignedOut
from ..connections.switchboard import Switchboard, digest
from ..people.accounts import AccountError, Accounts, SignedIn

log = logging.getLogger('voiceconnect')

PROGRAM_BROWSER = 'program:'  # what a program's connection service is keyed by, with a digest of its session
NOT_SIGNED_IN = 'Not signed in: the session is unknown, logged out or expired. Sign in again.'

Send = Callable[[str, dict[str, Any]], None]  # (event name, data) to the program


class ProgramRefused(Exception):
    """A program's connection or request is refused; the message is for the program's user."""


def program_ice(ice_servers: list[dict[str, Any]]) -> dict[str, Any]:
    """The RTCConfiguration a program's calls get: the settings' ICE servers (aiortc has no transport policy)."""
    return {'iceServers': ice_servers, 'iceTransportPolicy': 'all'}


class ProgramTab:
    """The core's `Tab` over a program's socket."""

    def __init__(self, send: Send, ice_servers: list[dict[str, Any]], on_signed_out: Callable[[], None]) -> None:
        self.send = send
        self.ice_servers = ice_servers
        self.on_signed_out = on_signed_out

    def deliver(self, event: Event) -> None:
        if isinstance(event, CallChanged):
            self.send(wire.CALL, dict(wire.call_payload(event.call, program_ice(self.ice_servers))))
        elif isinstance(event, PresenceChanged):
            changes = [{'name': change.name, 'presence': str(change.presence)} for change in event.changes]
            self.send(wire.PRESENCE, {'changes': changes})
        elif isinstance(event, SignedOut):
            self.send(wire.SIGNED_OUT, {'reason': event.reason})
            self.on_signed_out()
        elif isinstance(event, ServiceInterrupted):
            self.send(wire.SERVICE, {'interrupted': event.interrupted})

    def relay(self, message: dict[str, Any]) -> None:
        self.send(wire.SIGNAL, message)


# what a program may ask, validated like the signals

ClientKey = Annotated[str, Field(min_length=8, max_length=64, pattern=r'^[A-Za-z0-9_-]+$')]


class _Request(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class Hello(_Request):
    """What a program's socket connects with."""

    token: Annotated[str, Field(min_length=1, max_length=200)]
    client_key: ClientKey  # the same for every connection of one client: a reconnection takes its calls over


class PlaceCall(_Request):
    name: Annotated[str, Field(min_length=1, max_length=64)]


class OnCall(_Request):
    call_id: CallId


class OnPerson(OnCall):
    name: Annotated[str, Field(min_length=1, max_length=64)]


class SetMuted(OnCall):
    muted: bool


class Signal(_Request):
    signal: dict[str, Any]


CallAction = Literal['accept', 'decline', 'hang_up']


def _problem(error: ValidationError) -> str:
    """The first problem, as `'field': what is wrong`; the field's name may be the sender's (an extra field), so it
    is quoted and cut to MAX_FIELD_NAME characters: it cannot forge a log line or flood the log."""
    first = error.errors()[0]
    where = '.'.join(_field_name(part) for part in first['loc'])
    what = str(first['msg'])[:200]
    return f'{where}: {what}' if where else what


MAX_FIELD_NAME = 40


def _field_name(part: int | str) -> str:
    if isinstance(part, int):
        return str(part)
    cut = part[:MAX_FIELD_NAME]
    return repr(cut) + ('…' if len(part) > MAX_FIELD_NAME else '')


@dataclass
class ProgramConnection:
    """One program socket attached as a tab; `handle` answers each request with `{'call': …}`, `{}` or
    `{'error': message, 'code': …}` (voiceconnect/wire.py)."""

    programs: 'Programs'
    device: Device
    token: str
    tab: ProgramTab
    key: str  # its reload key: a reconnection of the same client with the same session finds it
    gone_after: Timer | None = None  # while parked: when its device goes, unless the program comes back

    async def handle(self, event: str, data: object) -> dict[str, Any]:
        try:
            return await self._handle(event, data)
        except ValidationError as error:
            problem = _problem(error)
            log.warning('⚠️ Rejected program request from %s: %s %s', self.device.user, event, problem)
            return dict(wire.refused_with(problem))
        except SignalRejected as error:
            return dict(wire.refused(error) if error.shown else wire.refused_with('rejected'))
        except CallError as error:
            return dict(wire.refused(error))
        except ProgramRefused as error:
            return dict(wire.refused_with(str(error)))

    async def _handle(self, event: str, data: object) -> dict[str, Any]:
        device = self.device
        if event == 'call_user':
            return self._call(await device.call_user(PlaceCall.model_validate(data).name))
        if event in ('accept', 'decline', 'hang_up'):
            action: Callable[[str], Awaitable[CallView]] = getattr(device, event)
            return self._call(await action(OnCall.model_validate(data).call_id))
        if event == 'leave_message':  # after an unanswered call of this user's (voicemail)
            return self._call(await device.leave_message(OnCall.model_validate(data).call_id))
        if event in ('add', 'remove'):
            person = OnPerson.model_validate(data)
            act = device.add_person if event == 'add' else device.remove_person
            return self._call(await act(person.call_id, person.name))
        if event == 'mute':
            request = SetMuted.model_validate(data)
            return self._call(await device.set_muted(request.call_id, request.muted))
        if event == 'signal':
            try:
                await device.signal(Signal.model_validate(data).signal)
            except SignalsDropped as error:
                return dict(wire.refused(error))
            return {}
        if event == 'online':
            return {'users': [{'name': u.name, 'in_call': u.in_call} for u in device.list_online_users()]}
        if event == 'log_out':
            await self.programs.log_out(self)
            return {}
        raise ProgramRefused(f'Unknown request {event[:40]!r}.')

    def _call(self, view: CallView) -> dict[str, Any]:
        return {'call': wire.call_payload(view, program_ice(self.programs.ice_servers))}

    async def disconnected(self) -> None:
        """The socket dropped: like a tab's, the user stays online and in the call for the grace period."""
        await self.device.set_connected(False)
        if self.programs.switchboard.holds(self.device):
            self.programs.park(self)


class Programs:
    """Signs programs in and attaches their sockets to their users' connection services."""

    def __init__(self, accounts: Accounts, switchboard: Switchboard, ice_servers: list[dict[str, Any]]) -> None:
        self.accounts = accounts
        self.switchboard = switchboard
        self.ice_servers = ice_servers
        self._parked: dict[str, ProgramConnection] = {}  # reload key → a connection whose socket dropped

    async def sign_in(self, name: object, password: object, address: str | None) -> SignedIn:
        """The sign-in form's check, limits and lockouts; raises AccountError."""
        if not isinstance(name, str) or not isinstance(password, str):
            raise AccountError('Send a JSON object with a "name" and a "password" (strings).')
        return await self.accounts.sign_in(name, password, address=address)

    async def connect(
        self, hello: object, send: Send, close: Callable[[], None], address: str = ''
    ) -> ProgramConnection:
        """Attach a program's socket as a tab of its user; raises ProgramRefused (bad hello, unknown session, as many
        sockets as allowed). `address`: the client's, for TABS_PER_ADDRESS."""
        try:
            checked = Hello.model_validate(hello)
        except ValidationError as error:
            raise ProgramRefused(f'Bad connection request: {_problem(error)}') from None
        user = await self.accounts.resume(checked.token)
        if user is None:
            raise ProgramRefused(NOT_SIGNED_IN)
        board = self.switchboard
        browser = PROGRAM_BROWSER + digest(checked.token)[:32]  # a key copied to another session takes nothing over
        key = f'{browser}/{checked.client_key}'
        if (parked := self._unpark(key)) is not None and board.holds(parked.device):
            return await self._resume(parked, send, close)
        service = await board.service_for(browser, user, checked.token)
        if len(service.tabs) >= (most := board.guards.limits.program_sockets_per_session):
            raise ProgramRefused(f'This session has {most} program sockets open, the most allowed. Close one first.')
        tab = ProgramTab(send, self.ice_servers, on_signed_out=lambda: self._signed_out(key, close))
        try:
            device = await board.attach(service, new_id('p'), tab, tab_key=checked.client_key, address=address)
        except TooManyTabs as refused:
            raise ProgramRefused(str(refused)) from None
        return ProgramConnection(self, device, checked.token, tab, key)

    async def _resume(
        self, connection: 'ProgramConnection', send: Send, close: Callable[[], None]
    ) -> 'ProgramConnection':
        """The same program back on a new socket within the grace period (a signaling blip): the same tab, so its
        media carries on untouched, as a browser's socket reconnecting to its page. It is told its call afresh."""
        connection.tab.send = send
        connection.tab.on_signed_out = lambda: self._signed_out(connection.key, close)
        await connection.device.set_connected(True)
        if (view := connection.device.call) is not None:
            connection.tab.deliver(CallChanged(view))
        return connection

    def park(self, connection: 'ProgramConnection') -> None:
        """Its socket dropped: its device stays for the grace period, for the program to take back."""
        self._unpark(connection.key)
        self._parked[connection.key] = connection
        board = self.switchboard
        connection.gone_after = board.clock.call_later(board.timeouts.reconnect_grace_s, lambda: self._gone(connection))

    def _unpark(self, key: str) -> 'ProgramConnection | None':
        if (connection := self._parked.pop(key, None)) is not None and connection.gone_after is not None:
            connection.gone_after.cancel()
            connection.gone_after = None
        return connection

    async def _gone(self, connection: 'ProgramConnection') -> None:
        """The program did not come back within the grace: its device goes, as a closed tab's does."""
        if self._parked.get(connection.key) is connection:
            self._unpark(connection.key)
            await connection.device.detach()

    def _signed_out(self, key: str, close: Callable[[], None]) -> None:
        self._unpark(key)
        close()

    async def log_out(self, connection: ProgramConnection) -> None:
        """The program's session ends, on every connection that uses it."""
        await self.accounts.sign_out(connection.token)
        await self.switchboard.log_out_session(connection.token)
