"""This process's side of the audio bridge: the tabs whose sockets are here, joined to their calls' Janus rooms.

A call past MESH_MAX moved to the bridge (manager.py `_to_bridge`): its record holds the room (id, secret, a seat
per person: token and participant id), and each joined device one link to the bridge. When a tab offers on that
link, this process (the one its socket is on) makes sure the room exists in Janus (whoever comes first creates it,
with the stored secret), lets the seat's token in, joins with the tab's SDP offer, and relays Janus's answer back
to the tab as an `answer` on that link; the tab's ICE candidates are trickled to Janus. A link that goes (the
member left, the tab reloaded and got a fresh link, the call ended) takes its Janus handle with it; the process
that ends a call destroys its room. Each process holds its own Janus session (one `JanusBridge`); if the process
dies, Janus's `session_timeout` reaps its handles, and a tab that comes back elsewhere re-offers there with the
same seat (a participant id still in the room from the dead session is removed first).

If Janus is lost (stopped, unreachable, hung), every participant held here fails as `bridge_lost` (the call
manager's `bridge_lost`: a member leaves `failed`, or the call ends `failed`, each logged), never a traceback; the
next need of the bridge connects afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..bridge.janus import BridgeEvent, BridgeLost, JanusBridge, JanusError, Participant, Room
from .machine import BridgeRoom, Call, CallError, Refusal
from .signals import Answer, Candidate, Offer

if TYPE_CHECKING:
    from .manager import CallManager

log = logging.getLogger('voiceconnect')
Relay = Callable[[str, str, dict[str, Any]], None]
ROOM_EXISTS = 486  # the AudioBridge's JANUS_AUDIOBRIDGE_ERROR_ROOM_EXISTS
ID_EXISTS = 491  # JANUS_AUDIOBRIDGE_ERROR_ID_EXISTS: the seat's participant id is in the room (a stale handle)
NO_SUCH_ROOM = 485


@dataclass
class Held:
    """A tab of this process joined to a room: its call, user, device, link and Janus participant."""

    call_id: str
    user: str
    device: str
    link: str
    participant: Participant


class BridgeRouter:
    """See the module's docstring. `calls` is set once the call manager exists (it asks `reachable`)."""

    def __init__(
        self,
        url: str,
        relay: Relay,
        *,
        api_secret: str | None = None,
        admin_key: str | None = None,
        request_timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.relay = relay
        self.api_secret = api_secret
        self.admin_key = admin_key
        self.request_timeout_s = request_timeout_s
        self.calls: CallManager | None = None
        self._janus: JanusBridge | None = None
        self._connecting = asyncio.Lock()
        self._held: dict[str, Held] = {}  # link id → the tab joined on it
        self._rooms: set[int] = set()  # rooms this process knows exist in Janus (created or found)
        self._tasks: set[asyncio.Task[None]] = set()

    # the call manager's Rooms

    async def reachable(self) -> bool:
        try:
            await self._bridge()
        except JanusError as error:
            log.warning('🌉 The audio bridge does not answer: %s', error)
            return False
        return True

    def room_ended(self, room: BridgeRoom) -> None:
        for link, held in list(self._held.items()):
            if held.participant.room == room.id:
                del self._held[link]
        self._spawn(self._destroy(room))

    # signals on a bridge link (signaling.py: only from the link's own device, checked)

    async def route(self, call: Call, user: str, device: str, signal: Offer | Answer | Candidate) -> None:
        if isinstance(signal, Offer):
            await self._join(call, user, device, signal)
        elif isinstance(signal, Candidate):
            if (held := self._held.get(signal.leg)) is not None:
                await self._trickle(held, signal)
        else:
            raise CallError('The audio bridge answers on this link, not the tab.')

    def call_changed(self, call: Call) -> None:
        """A call's new record (committed here, or heard from another process): handles of links gone leave."""
        for link, held in list(self._held.items()):
            if held.call_id == call.id and (not call.live or link not in call.links):
                del self._held[link]
                self._spawn(held.participant.leave())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._janus is not None:
            await self._janus.close()
            self._janus = None

    # helpers

    async def _bridge(self) -> JanusBridge:
        """This process's Janus session, opened on first need and again after one was lost."""
        async with self._connecting:
            if self._janus is None or self._janus.lost is not None:
                janus = JanusBridge(
                    self.url,
                    api_secret=self.api_secret,
                    admin_key=self.admin_key,
                    request_timeout_s=self.request_timeout_s,
                )
                await janus.open()
                janus.on_event(self._on_event)
                self._janus, self._rooms = janus, set()
            return self._janus

    async def _join(self, call: Call, user: str, device: str, offer: Offer) -> None:
        room, link = call.room, offer.leg
        if room is None or user not in room.seats:
            raise CallError('This call has no place for you on the audio bridge.')
        seat = room.seats[user]
        for old_link, held in list(self._held.items()):  # a fresh offer (a renegotiation, a renewed link)
            if held.call_id == call.id and held.user == user:
                del self._held[old_link]
                await held.participant.leave()
        try:
            janus = await self._bridge()
            await self._ensure_room(janus, room)
            await janus.allow(Room(room.id, room.secret), [seat.token])
            joined = await self._join_seat(janus, room, seat.token, seat.participant, offer.sdp, user)
        except JanusError as error:
            log.warning('🌉 %s could not join the audio bridge in call %s: %s', user, call.id, error)
            raise CallError('The audio bridge is not available just now.', Refusal.UNAVAILABLE) from None
        self._held[link] = Held(call.id, user, device, link, joined)
        answer = {'call_id': call.id, 'kind': 'answer', 'leg': link, 'link': link, 'sdp': joined.answer_sdp}
        self.relay(user, device, answer)

    async def _ensure_room(self, janus: JanusBridge, room: BridgeRoom) -> None:
        if room.id in self._rooms:
            return
        tokens = [seat.token for seat in room.seats.values()]
        try:
            await janus.create_room(tokens, room=room.id, secret=room.secret)
        except JanusError as error:
            if error.code != ROOM_EXISTS:  # another process (or an earlier session of this one) made it
                raise
        self._rooms.add(room.id)

    async def _join_seat(
        self, janus: JanusBridge, room: BridgeRoom, token: str, participant: int, sdp: str, user: str
    ) -> Participant:
        try:
            return await janus.join(room.id, token, sdp, participant=participant, display=user)
        except JanusError as error:
            if error.code != ID_EXISTS:
                raise
        # the seat is taken by a handle of a session gone (a process that died): remove it, then join
        with contextlib.suppress(JanusError):
            await janus.kick(Room(room.id, room.secret), participant)
        return await janus.join(room.id, token, sdp, participant=participant, display=user)

    async def _trickle(self, held: Held, signal: Candidate) -> None:
        text = signal.candidate
        candidate = {'candidate': text, 'sdpMid': signal.sdp_mid, 'sdpMLineIndex': signal.sdp_mline_index}
        try:
            await held.participant.trickle(candidate if text else None)
        except JanusError as error:  # the bridge's loss is handled once, for everyone (_on_event)
            log.debug('a candidate for the audio bridge was not delivered: %s', error)

    async def _destroy(self, room: BridgeRoom) -> None:
        self._rooms.discard(room.id)
        try:
            janus = await self._bridge()
            await janus.destroy_room(Room(room.id, room.secret))
        except JanusError as error:
            if error.code != NO_SUCH_ROOM:  # never created (nobody offered), or Janus lost it with its session
                log.warning('🌉 The audio bridge room of an ended call was not destroyed: %s', error)

    def _on_event(self, event: BridgeEvent) -> None:
        if not isinstance(event, BridgeLost):
            return
        lost, self._held = list(self._held.values()), {}
        calls = {held.call_id for held in lost}
        log.warning(
            '🌉 Audio bridge lost (Janus at %s: %s): %d participant(s) of %d call(s) here fail: bridge_lost',
            self.url,
            event.reason,
            len(lost),
            len(calls),
        )
        if self.calls is not None:
            for held in lost:
                self._spawn(self._fail(self.calls, held))

    async def _fail(self, calls: CallManager, held: Held) -> None:
        with contextlib.suppress(CallError):  # the call moved on meanwhile (ended, they left)
            await calls.bridge_lost(held.call_id, held.user, held.device)

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None and not isinstance(error, JanusError):
            log.warning('🌉 An audio bridge task failed: %s: %s', type(error).__name__, error)
