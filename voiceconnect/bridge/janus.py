"""Janus Gateway's AudioBridge, driven by the server over Janus's WebSocket API: a room per group call, a token per
participant, one stream up and one mix down for each of them.

    async with JanusBridge('ws://127.0.0.1:8188', api_secret=..., admin_key=...) as bridge:
        room = await bridge.create_room(tokens=['t-alice', 't-bob'])      # its secret stays on the server
        alice = await bridge.join(room, 't-alice', offer_sdp)             # alice.answer_sdp goes back to her
        await alice.configure(muted=True)
        await alice.leave()
        await bridge.destroy_room(room)

One bridge is one WebSocket and one Janus session; every participant is a handle of that session, and one more
handle asks for the rooms. Each request is a transaction with an answer expected within `request_timeout_s` (a
hung Janus raises `JanusTimeout`, never hangs its caller); keep-alives go every `keepalive_s`, well within Janus's
`session_timeout`. If the WebSocket drops or a keep-alive goes unanswered, the bridge is lost for good (Janus's
rooms and peer connections die with the session): every waiting and later request raises `JanusUnavailable`, and
the listeners hear `BridgeLost` once; whoever holds the bridge makes a new one. What Janus tells about a room
(who is talking, who left) reaches the listeners as typed events, once each, whichever handle it arrived on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

log = logging.getLogger('voiceconnect')

SUBPROTOCOL = 'janus-protocol'
PLUGIN = 'janus.plugin.audiobridge'
MAX_ID = 2**52  # room and participant ids: Janus takes 64-bit ones, JavaScript's numbers are exact below 2**53


class JanusError(Exception):
    """Janus refused a request: `code` is Janus's or the AudioBridge's error code, the message its reason."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class JanusUnavailable(JanusError):
    """Janus cannot be reached: not connected, or the connection was lost (Janus stopped, or the network)."""


class JanusTimeout(JanusError):
    """Janus did not answer a request in time (a hung or overloaded Janus)."""


@dataclass(frozen=True)
class Talking:
    """A participant started (`talking`) or stopped talking, from Janus's audio levels (`audiolevel_event`)."""

    room: int
    participant: int
    talking: bool


@dataclass(frozen=True)
class ParticipantLeft:
    """A participant left the room: it asked to, its peer connection ended, or it was removed."""

    room: int
    participant: int


@dataclass(frozen=True)
class BridgeLost:
    """The bridge's connection to Janus is gone, and with it its rooms' peer connections."""

    reason: str


BridgeEvent = Talking | ParticipantLeft | BridgeLost
Listener = Callable[[BridgeEvent], None]


@dataclass(frozen=True)
class Room:
    """An AudioBridge room this server created; its `secret` never leaves the server."""

    id: int
    secret: str


def new_id() -> int:
    return secrets.randbelow(MAX_ID - 1) + 1


class Participant:
    """One person in a room: a handle of the bridge's session carrying their peer connection."""

    def __init__(self, bridge: JanusBridge, room: int, participant: int, handle: int, answer_sdp: str) -> None:
        self.bridge = bridge
        self.room = room
        self.id = participant
        self.handle = handle
        self.answer_sdp = answer_sdp  # Janus's SDP answer to the participant's offer
        self.media_up = asyncio.Event()  # Janus says the peer connection is up (`webrtcup`)

    async def configure(self, *, muted: bool) -> None:
        """Mute or unmute this participant in the mix."""
        await self.bridge.plugin_request(self.handle, {'request': 'configure', 'muted': muted}, asynchronous=True)

    async def trickle(self, candidate: dict[str, Any] | None) -> None:
        """One ICE candidate of the participant's (`candidate`, `sdpMid`, `sdpMLineIndex`), or None once it has
        sent them all."""
        message: dict[str, Any] = {'janus': 'trickle', 'handle_id': self.handle}
        message['candidate'] = candidate if candidate is not None else {'completed': True}
        await self.bridge.send(message, ack_is_final=True)

    async def leave(self) -> None:
        """Leave the room and drop the handle (its peer connection ends); a lost bridge has nothing to leave."""
        if self.bridge.lost is not None:
            return
        with contextlib.suppress(JanusError):  # already gone: removed, or the room was destroyed
            await self.bridge.plugin_request(self.handle, {'request': 'leave'}, asynchronous=True)
        await self.bridge.detach(self.handle)


class JanusBridge:
    """One WebSocket and one Janus session, for any number of rooms (see the module's docstring)."""

    def __init__(
        self,
        url: str,
        *,
        api_secret: str | None = None,
        admin_key: str | None = None,
        request_timeout_s: float = 5.0,
        keepalive_s: float = 15.0,
    ) -> None:
        self.url = url
        self.api_secret = api_secret
        self.admin_key = admin_key
        self.request_timeout_s = request_timeout_s
        self.keepalive_s = keepalive_s
        self.lost: str | None = None  # why the bridge is gone, once it is
        self._ws: ClientConnection | None = None
        self._session: int | None = None
        self._control: int | None = None  # the handle that creates, changes and destroys rooms
        self._pending: dict[str, tuple[asyncio.Future[dict[str, Any]], bool]] = {}
        self._participants: dict[int, Participant] = {}  # by handle
        self._listeners: list[Listener] = []
        self._talking: dict[tuple[int, int], bool] = {}
        self._gone: set[tuple[int, int]] = set()  # (room, participant) already told as left
        self._tasks: list[asyncio.Task[None]] = []

    # --- connection ----------------------------------------------------------------------------------------------

    async def open(self) -> Self:
        """Connect, create the session and attach the control handle; JanusUnavailable if Janus is not there."""
        try:
            self._ws = await connect(
                self.url,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                open_timeout=self.request_timeout_s,
                max_size=2**20,
                ping_interval=None,  # Janus's own keep-alives below say whether it is there
            )
        except (OSError, InvalidHandshake, TimeoutError) as error:
            raise JanusUnavailable(f'cannot reach Janus at {self.url} ({error or type(error).__name__})') from None
        self._tasks.append(asyncio.create_task(self._read(self._ws)))
        try:
            created = await self.send({'janus': 'create'})  # a wrong API secret is refused here
            self._session = int(created['data']['id'])
            self._control = await self.attach()
        except BaseException:
            await self.close()
            raise
        self._tasks.append(asyncio.create_task(self._keep_alive()))
        return self

    async def close(self) -> None:
        """Destroy the session (Janus ends its handles and their peer connections) and close the WebSocket."""
        if self.lost is None and self._session is not None:
            with contextlib.suppress(JanusError):
                await self.send({'janus': 'destroy'})
        self._give_up('closed', notify=False)
        if self._ws is not None:
            await self._ws.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()

    def on_event(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each `BridgeEvent`; returns what stops that."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # --- rooms -----------------------------------------------------------------------------------------------------

    async def create_room(
        self,
        tokens: Iterable[str],
        *,
        room: int | None = None,
        secret: str | None = None,
        sampling_rate: int = 16_000,
        audio_active_packets: int = 25,
        audio_level_average: int = 40,
    ) -> Room:
        """A room only holders of `tokens` may join (each participant's own), not kept across a Janus restart,
        unlisted, with talking events (a participant counts as talking once `audio_active_packets` packets of 20 ms
        averaged louder than `audio_level_average`, 0 loudest to 127 silent)."""
        made = Room(room or new_id(), secret or secrets.token_urlsafe(24))
        body = {
            'request': 'create',
            'room': made.id,
            'secret': made.secret,
            'permanent': False,
            'is_private': True,
            'allowed': list(tokens),
            'sampling_rate': sampling_rate,
            'audiolevel_ext': True,
            'audiolevel_event': True,
            'audio_active_packets': audio_active_packets,
            'audio_level_average': audio_level_average,
        }
        await self.plugin_request(self._control_handle(), self._with_admin_key(body))
        return made

    async def destroy_room(self, room: Room) -> None:
        """End the room: everyone still in it is dropped."""
        body = {'request': 'destroy', 'room': room.id, 'secret': room.secret, 'permanent': False}
        await self.plugin_request(self._control_handle(), body)
        self._gone = {key for key in self._gone if key[0] != room.id}

    async def allow(self, room: Room, tokens: Iterable[str]) -> None:
        """Let the holders of `tokens` join too (someone added to the call)."""
        await self._allowed(room, 'add', tokens)

    async def disallow(self, room: Room, tokens: Iterable[str]) -> None:
        """Refuse `tokens` from now on (someone removed: kick them too, with `kick`)."""
        await self._allowed(room, 'remove', tokens)

    async def kick(self, room: Room, participant: int) -> None:
        body = {'request': 'kick', 'room': room.id, 'secret': room.secret, 'id': participant}
        await self.plugin_request(self._control_handle(), body)

    async def rooms(self) -> set[int]:
        """The ids of the rooms Janus holds now (private ones too: this asks with the admin key)."""
        data = await self.plugin_request(self._control_handle(), self._with_admin_key({'request': 'list'}))
        return {int(room['room']) for room in data.get('list', [])}

    async def participants(self, room: Room) -> list[dict[str, Any]]:
        """Who is in the room now, as Janus lists them (`id`, `display`, `muted`, `talking`, …)."""
        data = await self.plugin_request(self._control_handle(), {'request': 'listparticipants', 'room': room.id})
        return list(data.get('participants', []))

    async def join(
        self,
        room: Room | int,
        token: str,
        offer_sdp: str,
        *,
        participant: int | None = None,
        display: str = '',
        muted: bool = False,
    ) -> Participant:
        """Join `room` with the participant's SDP offer; the returned participant carries Janus's answer. A token
        the room does not allow raises JanusError (and leaves nothing behind)."""
        room_id = room.id if isinstance(room, Room) else room
        wanted = participant or new_id()
        handle = await self.attach()
        body = {
            'request': 'join',
            'room': room_id,
            'id': wanted,
            'token': token,
            'display': display,
            'muted': muted,
            'codec': 'opus',
        }
        try:
            reply = await self.plugin_request(
                handle, body, asynchronous=True, jsep={'type': 'offer', 'sdp': offer_sdp}, full=True
            )
        except JanusError:
            with contextlib.suppress(JanusError):
                await self.detach(handle)
            raise
        data = reply['plugindata']['data']
        answer = (reply.get('jsep') or {}).get('sdp')
        if not isinstance(answer, str):
            await self.detach(handle)
            raise JanusError(f'Janus joined room {room_id} without an SDP answer')
        joined = Participant(self, room_id, int(data.get('id', wanted)), handle, answer)
        self._gone.discard((room_id, joined.id))
        self._participants[handle] = joined
        return joined

    # --- the protocol ----------------------------------------------------------------------------------------------

    async def attach(self) -> int:
        reply = await self.send({'janus': 'attach', 'plugin': PLUGIN})
        return int(reply['data']['id'])

    async def detach(self, handle: int) -> None:
        self._participants.pop(handle, None)
        if self.lost is None:
            with contextlib.suppress(JanusError):  # Janus may have dropped it already (its peer connection ended)
                await self.send({'janus': 'detach', 'handle_id': handle})

    async def plugin_request(
        self,
        handle: int,
        body: dict[str, Any],
        *,
        asynchronous: bool = False,
        jsep: dict[str, Any] | None = None,
        full: bool = False,
    ) -> dict[str, Any]:
        """A request to the AudioBridge on `handle`: its answer's data (or, `full`, the whole reply, jsep included).
        The AudioBridge's own refusals (`error_code`) raise JanusError like Janus's."""
        message: dict[str, Any] = {'janus': 'message', 'handle_id': handle, 'body': body}
        if jsep is not None:
            message['jsep'] = jsep
        reply = await self.send(message)  # join, configure, leave: an ack first, then the event that answers
        data = (reply.get('plugindata') or {}).get('data') or {}
        if 'error_code' in data:
            raise JanusError(f'AudioBridge: {data.get("error", "refused")}', int(data['error_code']))
        return reply if full else dict(data)

    async def send(self, message: dict[str, Any], *, ack_is_final: bool = False) -> dict[str, Any]:
        """Send one request and wait for its answer (`ack` for keep-alives and trickles, else what follows it)."""
        if self.lost is not None or self._ws is None:
            raise JanusUnavailable(f'no connection to Janus at {self.url} ({self.lost or "not connected"})')
        transaction = secrets.token_hex(8)
        message = {**message, 'transaction': transaction}
        if self._session is not None and message['janus'] != 'create':
            message['session_id'] = self._session
        if self.api_secret is not None:
            message['apisecret'] = self.api_secret
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = (answer, ack_is_final)
        try:
            await self._ws.send(json.dumps(message))
            reply = await asyncio.wait_for(answer, self.request_timeout_s)
        except TimeoutError:
            raise JanusTimeout(
                f'Janus at {self.url} did not answer {message["janus"]!r} within {self.request_timeout_s:g} s'
            ) from None
        except ConnectionClosed as error:
            self._give_up(f'the WebSocket closed ({error})')
            raise JanusUnavailable(f'the connection to Janus at {self.url} was lost') from None
        finally:
            self._pending.pop(transaction, None)
        if reply.get('janus') == 'error':
            problem = reply.get('error') or {}
            raise JanusError(f'Janus: {problem.get("reason", "refused")}', problem.get('code'))
        return reply

    def _control_handle(self) -> int:
        if self._control is None:
            raise JanusUnavailable(f'no connection to Janus at {self.url} (not open)')
        return self._control

    def _with_admin_key(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, 'admin_key': self.admin_key} if self.admin_key is not None else body

    async def _allowed(self, room: Room, action: str, tokens: Iterable[str]) -> None:
        body = {'request': 'allowed', 'room': room.id, 'secret': room.secret, 'action': action, 'allowed': list(tokens)}
        await self.plugin_request(self._control_handle(), body)

    async def _keep_alive(self) -> None:
        while self.lost is None:
            await asyncio.sleep(self.keepalive_s)
            try:
                await self.send({'janus': 'keepalive'}, ack_is_final=True)
            except JanusTimeout as error:  # hung: nothing it holds works any more either
                self._give_up(str(error))
                if self._ws is not None:
                    await self._ws.close()
                return
            except JanusUnavailable:
                return

    async def _read(self, ws: ClientConnection) -> None:
        reason = 'Janus closed the WebSocket'
        try:
            async for frame in ws:
                try:
                    self._receive(frame)
                except (KeyError, TypeError, ValueError) as error:  # a message of a shape we do not know: not fatal
                    log.warning('Janus at %s sent a message this bridge cannot read (%r); ignored', self.url, error)
        except ConnectionClosed as error:
            reason = f'the WebSocket closed ({error})'
        self._give_up(reason)

    def _receive(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            log.warning('Janus at %s sent something that is not JSON; ignored', self.url)
            return
        if not isinstance(message, dict):
            return
        kind = message.get('janus')
        waiting = self._pending.get(str(message.get('transaction')))
        if waiting is not None and (kind != 'ack' or waiting[1]):
            if not waiting[0].done():
                waiting[0].set_result(message)
            return
        if kind == 'event':
            self._plugin_event(message)
        elif kind == 'webrtcup':
            if (joined := self._participants.get(int(message.get('sender', 0)))) is not None:
                joined.media_up.set()
        elif kind == 'timeout':  # the session timed out: keep-alives did not arrive in time
            self._give_up('Janus timed the session out')

    def _plugin_event(self, message: dict[str, Any]) -> None:
        data = (message.get('plugindata') or {}).get('data') or {}
        room = data.get('room')
        if not isinstance(room, int):
            return
        what = data.get('audiobridge')
        if what in ('talking', 'stopped-talking') and isinstance(data.get('id'), int):
            talking = what == 'talking'
            if self._talking.get((room, data['id'])) != talking:
                self._talking[(room, data['id'])] = talking
                self._emit(Talking(room, data['id'], talking))
        elif isinstance(data.get('leaving'), int):
            self._left(room, data['leaving'])
        elif what == 'left':  # the answer to a participant's own leave, when no transaction waits for it
            joined = self._participants.get(int(message.get('sender', 0)))
            if joined is not None:
                self._left(room, joined.id)

    def _left(self, room: int, participant: int) -> None:
        """Each participant's handle hears that someone left: tell the listeners once."""
        key = (room, participant)
        self._talking.pop(key, None)
        if key not in self._gone:
            self._gone.add(key)
            self._emit(ParticipantLeft(room, participant))

    def _emit(self, event: BridgeEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one listener's bug must not silence the others, nor the bridge
                log.exception('a Janus bridge listener failed on %s', event)

    def _give_up(self, reason: str, notify: bool = True) -> None:
        """The bridge is lost: every waiting request fails now, later ones at once; the listeners hear it once."""
        if self.lost is not None:
            return
        self.lost = reason
        for answer, _ in self._pending.values():
            if not answer.done():
                answer.set_exception(JanusUnavailable(f'the connection to Janus at {self.url} was lost ({reason})'))
        if notify:
            log.warning('Janus at %s is lost: %s', self.url, reason)
            self._emit(BridgeLost(reason))
