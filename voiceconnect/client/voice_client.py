"""`VoiceClient`: a program taking part in VoiceConnect calls like a browser tab, with aiortc for the media and
python-socketio's asyncio client for the signaling (the app's `/program` namespace, see web/program_socket.py).

It speaks the browser module's protocol (assets/voiceconnect.js): the server sends the call as this client sees
it (`call`) and relays the peer's SDP and ICE candidates (`signal`); the callee makes one offer per ringing leg,
silent until answered, and the caller answers each; on the answer the sound goes onto the answered leg and each
side reports `media_up` once its peer connection is up.

In a group call the server also names this client's *links*, one peer connection to each other joined member
(the caller-callee leg aside): on those with the role `offer` (this client came later) it makes the offer at
once with its sound on it, on the others it answers. Each link's sound is heard on its own (`record(…, of=name)`).
"""

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
import socketio
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.sdp import candidate_from_sdp

from .. import wire
from ..calls.machine import Refusal
from ..wire import CallPayload
from .media import Incoming, Outgoing, read_wav, write_wav

log = logging.getLogger('voiceconnect.client')

NAMESPACE = '/program'
SOCKETIO_PATH = '_nicegui_ws/socket.io'
RECONNECT_DELAY_S = 0.25  # like the browser module: a server back after a blip is found within a second
RECONNECT_DELAY_MAX_S = 1.0
Presence = Literal['online', 'in_call', 'offline']
Requester = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]  # (request, data) → the server's answer


class VoiceClientError(Exception):
    """Signing in or reaching the server failed; the message is one line for a person."""


class CallRefused(Exception):
    """The call was not answered: `outcome` is the word for a program, the message says it for a person. It is how
    the call ended (an EndReason: `declined`, `busy`, `missed`, `offline`, `do_not_disturb`, `cancelled`, `failed`,
    …), or, when the server refused the request before anything rang, its code (a Refusal: `rate_limited`,
    `not_found`, `in_call`, `unavailable`, `mailbox_full`, `refused`, …). `call_id` names the call that ended
    unanswered (for `VoiceClient.leave_message`)."""

    def __init__(self, outcome: str, message: str | None = None, call_id: str | None = None) -> None:
        super().__init__(message or outcome)
        self.outcome = outcome
        self.call_id = call_id


@dataclass(frozen=True)
class PresenceChange:
    name: str
    presence: Presence


def ice_configuration(servers: list[dict[str, Any]]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[RTCIceServer(s['urls'], s.get('username'), s.get('credential')) for s in servers if 'urls' in s]
    )


@dataclass(eq=False)
class _Leg:
    """One peer connection between the caller and one callee leg (see the browser module)."""

    pc: RTCPeerConnection
    transceiver: RTCRtpTransceiver | None = None
    remote_set: bool = False
    pending: list[dict[str, Any]] | None = None
    remote_track: MediaStreamTrack | None = None
    attached: bool = False
    reported: bool = False
    sending: bool = False  # our voice is on it (a link: once it carries voice)


class Call:
    """A call of this client. Created by `VoiceClient.call` (answered) or `IncomingCall.accept`."""

    def __init__(self, client: 'VoiceClient', call_id: str, role: str, peer: str) -> None:
        self.client = client
        self.id = call_id
        self.role = role
        self.peer = peer
        self.state = 'ringing'
        self.ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()  # `await call.ended`
        self.answered = asyncio.Event()
        self.voice_up = asyncio.Event()  # our sound is on the answered leg and its connection is up
        self.answered_at: float | None = None  # monotonic times, for measurements
        self.voice_up_at: float | None = None
        self.outgoing = Outgoing()
        self.incoming = Incoming()
        self._legs: dict[str, _Leg] = {}
        self._my_leg: str | None = None
        self._answered_leg: str | None = None
        self._ice_servers: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.members: list[wire.MemberPayload] = []  # a group call's people (empty for 1:1)
        self._links: dict[str, _Leg] = {}  # link id → peer connection (group calls)
        self._link_peer: dict[str, str] = {}  # link id → the other end's name
        self._live_links: set[str] = set()  # links our voice may go on (both ends joined)
        self._heard: dict[str, Incoming] = {}  # the other end's name → what is heard from them on their link
        self._relay: MediaRelay | None = None  # our sound to several peer connections at once
        self._joined_waiters: dict[str, asyncio.Future[str]] = {}

    # what a program does with a call

    async def play(self, wav: str | Path) -> None:
        """Play a 16-bit PCM WAV (mono or stereo, any common rate) to the peer; returns when it has been sent (or
        the call ended)."""
        await self.play_pcm(await asyncio.to_thread(read_wav, wav))

    async def record(self, wav: str | Path, seconds: float = 5.0) -> Path:
        """Record the next `seconds` of what the peer says to a 48 kHz mono WAV (less if the call ends first)."""
        return await asyncio.to_thread(write_wav, wav, await self.record_pcm(seconds))

    async def play_pcm(self, pcm: bytes) -> None:
        """Like `play`, for 48 kHz mono 16-bit PCM."""
        if await self._wait_voice():
            await self._until_ended(self.outgoing.play(pcm))

    async def record_pcm(self, seconds: float, of: str | None = None) -> bytes:
        """Like `record`, as 48 kHz mono 16-bit PCM."""
        if not await self._wait_voice():
            return b''
        return await self._incoming_of(of).record(seconds, until=self.ended)

    async def record_from(self, name: str, wav: str | Path, seconds: float = 5.0) -> Path:
        """In a group call: record what `name` says, on their own link."""
        return await asyncio.to_thread(write_wav, wav, await self.record_pcm(seconds, of=name))

    # group calls

    @property
    def participants(self) -> list[str]:
        """Who is joined in the call now (this client included)."""
        if self.members:
            return [m['name'] for m in self.members if m['state'] == 'joined']
        return [self.client.user, self.peer] if self.answered.is_set() and self.live else []

    async def add(self, name: str, timeout: float | None = None) -> None:
        """Invite `name` into this call; returns once they joined. Raises CallRefused with the server's code if the
        invitation is refused (`already_in_call`, `call_full`, `not_answered`, `rate_limited`, …) or with how it
        ended if they did not join (`busy`, `offline`, `do_not_disturb`, `declined`, `missed`, …)."""
        waiter = self._joined_waiters[name] = asyncio.get_running_loop().create_future()
        try:
            await self.client._act('add', {'call_id': self.id, 'name': name})
            outcome = await asyncio.wait_for(asyncio.shield(waiter), timeout)
        finally:
            self._joined_waiters.pop(name, None)
        if outcome != 'joined':
            raise CallRefused(outcome, f'{name}: {outcome}')

    async def remove(self, name: str) -> None:
        """As the host (the one who placed the call): take `name` out of it."""
        await self.client._act('remove', {'call_id': self.id, 'name': name})

    def _incoming_of(self, name: str | None) -> Incoming:
        if name is None or (name == self.peer and name not in self._link_peer.values()):
            return self.incoming  # the caller-callee leg
        return self._heard.setdefault(name, Incoming())

    def _sync_members(self, view: CallPayload) -> None:
        self.members = list(view.get('members', []))
        for member in self.members:
            waiter = self._joined_waiters.get(member['name'])
            if waiter is None or waiter.done() or member['state'] == 'ringing':
                continue
            waiter.set_result('joined' if member['state'] == 'joined' else str(member['left_reason'] or 'left'))

    def _sync_links(self, view: CallPayload) -> None:
        """Open the links the server names (offering on ours), close those it no longer names."""
        wanted = {link['id']: link for link in view.get('links', [])}
        for gone in [link_id for link_id in self._links if link_id not in wanted]:
            self._close_link(gone)
        for link_id, link in wanted.items():
            self._link_peer[link_id] = link['peer']
            if link.get('live', True):
                self._live_links.add(link_id)
            if link_id not in self._links and link['role'] == 'offer':
                self._spawn(self._offer_link(link_id))
            elif link_id in self._live_links:
                self._send_on(self._links.get(link_id))

    def _send_on(self, link: '_Leg | None') -> None:
        """Our voice on a link once it carries voice (a ringing invitee's link to us stays silent until they join)."""
        if link is not None and link.transceiver is not None and not link.sending:
            link.sending = True
            link.transceiver.sender.replaceTrack(self._sending())

    def _sending(self) -> MediaStreamTrack:
        """Our sound for one more peer connection, a copy of its own: aiortc stops a sender's track when its peer
        connection closes, so no sender may hold `outgoing` itself (the leg closed as the call moves to the bridge
        would silence every other link)."""
        if self._relay is None:
            self._relay = MediaRelay()
        return self._relay.subscribe(self.outgoing)

    def _new_link(self, link_id: str) -> _Leg:
        link = _Leg(RTCPeerConnection(ice_configuration(self._ice_servers)), attached=True)
        self._links[link_id] = link
        peer = self._link_peer.get(link_id, '')

        @link.pc.on('track')
        def on_track(track: MediaStreamTrack) -> None:
            self._incoming_of(peer).follow(track)

        @link.pc.on('connectionstatechange')
        async def on_state() -> None:
            if link.pc.connectionState == 'connected' and not link.reported:
                link.reported = True
                await self._voice_is_up()

        return link

    async def _offer_link(self, link_id: str) -> None:
        link = self._new_link(link_id)
        link.transceiver = link.pc.addTransceiver(self._sending(), direction='sendrecv')
        link.sending = True  # we offer once joined: the links we offer on carry voice
        await link.pc.setLocalDescription(await link.pc.createOffer())
        if self._links.get(link_id) is link:
            sdp = link.pc.localDescription.sdp
            await self.client._signal({'kind': 'offer', 'call_id': self.id, 'leg': link_id, 'sdp': sdp})

    async def _answer_link(self, link_id: str, sdp: str) -> None:
        link = self._links.get(link_id) or self._new_link(link_id)
        await link.pc.setRemoteDescription(RTCSessionDescription(sdp, 'offer'))
        for transceiver in link.pc.getTransceivers():
            transceiver.direction = 'sendrecv'
            if link.transceiver is None:
                link.transceiver = transceiver
        if link_id in self._live_links:
            self._send_on(link)
        await self._remote_set(link)
        await link.pc.setLocalDescription(await link.pc.createAnswer())
        answer = {'kind': 'answer', 'call_id': self.id, 'leg': link_id, 'sdp': link.pc.localDescription.sdp}
        await self.client._signal(answer)

    def _close_link(self, link_id: str) -> None:
        self._live_links.discard(link_id)
        if (link := self._links.pop(link_id, None)) is not None:
            self._spawn(link.pc.close())
        if (peer := self._link_peer.pop(link_id, None)) is not None and (heard := self._heard.pop(peer, None)):
            heard.stop()

    async def _voice_is_up(self) -> None:
        if self.voice_up.is_set():
            return
        self.voice_up_at = time.monotonic()
        self.voice_up.set()
        await self.client._signal({'kind': 'media_up', 'call_id': self.id})

    def echo(self) -> None:
        """From now on, play back what the peer says as it arrives."""

        def play_back(pcm: bytes) -> None:
            self.outgoing.play(pcm)

        self.incoming.listeners.append(play_back)

    async def mute(self, muted: bool = True) -> None:
        self.outgoing.muted = muted
        await self.client._act('mute', {'call_id': self.id, 'muted': muted})

    async def hang_up(self) -> str:
        """End the call; returns how it ended."""
        if not self.ended.done():
            with contextlib.suppress(CallRefused):
                await self.client._act('hang_up', {'call_id': self.id})
        return await self.ended

    @property
    def live(self) -> bool:
        return not self.ended.done()

    # the server's view of the call → this client's media (the browser module's `sync`)

    def sync(self, view: CallPayload) -> None:
        self.state = view['state']
        if 'ice' in view:  # only in views of a call this client carries
            self._ice_servers = view['ice'].get('iceServers') or []
        leg = view.get('leg')
        self._sync_members(view)
        if view.get('my_state') == 'ringing' and view['state'] != 'ended':
            return  # invited into a call going on: it rings until accepted
        if view['state'] != 'ended' and view['here']:
            self._sync_links(view)
        if view['state'] == 'ended' or not view['here']:
            reason = view.get('end_reason') or ('answered_elsewhere' if view.get('answered_elsewhere') else 'ended')
            self._finish(reason)
            return
        if self.role == 'callee':
            if leg != self._my_leg:  # the first leg, or renewed: negotiate a fresh connection
                for old in list(self._legs):
                    self._close_leg(old)
                self._my_leg = leg
                if leg is not None:
                    self._spawn(self._offer(leg))
            if view['state'] == 'ringing':
                return
        else:
            if view['state'] == 'ringing':
                return
            for other in [other for other in self._legs if other != leg]:
                self._close_leg(other)
        if not self.answered.is_set():
            self.answered_at = time.monotonic()
            self.answered.set()
        self._answered_leg = leg
        if leg in self._legs:
            self._attach(leg)

    async def signal(self, message: dict[str, Any]) -> None:
        """The peer's SDP or ICE candidate, relayed by the server."""
        leg_id, kind = message.get('leg'), message.get('kind')
        if not isinstance(leg_id, str):
            return
        if kind == 'offer' and 'link' in message:
            await self._answer_link(leg_id, message['sdp'])
            return
        if kind == 'offer':
            await self._answer_offer(leg_id, message['sdp'])
            return
        leg = self._legs.get(leg_id) or self._links.get(leg_id)
        if leg is None:
            return
        if kind == 'answer':
            await leg.pc.setRemoteDescription(RTCSessionDescription(message['sdp'], 'answer'))
            await self._remote_set(leg)
        elif kind == 'candidate' and message.get('candidate'):
            if leg.remote_set:
                await self._add_candidate(leg, message)
            else:
                leg.pending = [*(leg.pending or []), message]

    # negotiation

    def _new_leg(self, leg_id: str) -> _Leg:
        leg = _Leg(RTCPeerConnection(ice_configuration(self._ice_servers)))
        self._legs[leg_id] = leg

        @leg.pc.on('track')
        def on_track(track: MediaStreamTrack) -> None:
            leg.remote_track = track
            if self._answered_leg == leg_id and leg.attached:
                self.incoming.follow(track)

        @leg.pc.on('connectionstatechange')
        async def on_state() -> None:
            if leg.pc.connectionState == 'connected':
                await self._report_if_up(leg_id)

        return leg

    async def _offer(self, leg_id: str) -> None:
        """As the callee: one offer per leg, with nothing on the sender until the answer."""
        leg = self._new_leg(leg_id)
        leg.transceiver = leg.pc.addTransceiver('audio', direction='sendrecv')
        await leg.pc.setLocalDescription(await leg.pc.createOffer())
        if self._legs.get(leg_id) is not leg:
            return  # ended or renewed meanwhile
        offer = {'kind': 'offer', 'call_id': self.id, 'leg': leg_id, 'sdp': leg.pc.localDescription.sdp}
        await self.client._signal(offer)
        if self._answered_leg == leg_id:
            self._attach(leg_id)

    async def _answer_offer(self, leg_id: str, sdp: str) -> None:
        """As the caller: answer each callee leg's offer (again for an ICE restart)."""
        if self.role != 'caller' or not self.live:
            return
        leg = self._legs.get(leg_id) or self._new_leg(leg_id)
        await leg.pc.setRemoteDescription(RTCSessionDescription(sdp, 'offer'))
        for transceiver in leg.pc.getTransceivers():
            transceiver.direction = 'sendrecv'  # keep the send side for our sound
            leg.transceiver = leg.transceiver or transceiver
        await self._remote_set(leg)
        await leg.pc.setLocalDescription(await leg.pc.createAnswer())
        answer = {'kind': 'answer', 'call_id': self.id, 'leg': leg_id, 'sdp': leg.pc.localDescription.sdp}
        await self.client._signal(answer)
        if self._answered_leg == leg_id:
            self._attach(leg_id)

    async def _remote_set(self, leg: _Leg) -> None:
        leg.remote_set = True
        pending, leg.pending = leg.pending or [], None
        for message in pending:
            await self._add_candidate(leg, message)

    async def _add_candidate(self, leg: _Leg, message: dict[str, Any]) -> None:
        text = str(message['candidate'])
        candidate = candidate_from_sdp(text.split(':', 1)[1] if text.startswith('candidate:') else text)
        candidate.sdpMid = message.get('sdp_mid')
        candidate.sdpMLineIndex = message.get('sdp_mline_index')
        try:
            await leg.pc.addIceCandidate(candidate)
        except Exception as error:  # one bad candidate from the peer must not end the negotiation
            log.debug('ignored a candidate: %s', error)

    def _attach(self, leg_id: str) -> None:
        """The call is answered on this leg: our sound goes onto it, and we listen to it."""
        leg = self._legs[leg_id]
        if leg.attached or leg.transceiver is None:
            return
        leg.attached = True
        leg.transceiver.sender.replaceTrack(self._sending())
        if leg.remote_track is not None:
            self.incoming.follow(leg.remote_track)
        self._spawn(self._report_if_up(leg_id))

    async def _report_if_up(self, leg_id: str) -> None:
        leg = self._legs.get(leg_id)
        if leg is None or not leg.attached or leg.reported or leg.pc.connectionState != 'connected':
            return
        leg.reported = True
        self.voice_up_at = time.monotonic()
        self.voice_up.set()
        await self.client._signal({'kind': 'media_up', 'call_id': self.id})

    # ending

    def _close_leg(self, leg_id: str) -> None:
        if (leg := self._legs.pop(leg_id, None)) is not None:
            self._spawn(leg.pc.close())

    def _finish(self, reason: str) -> None:
        if self.ended.done():
            return
        for leg_id in list(self._legs):
            self._close_leg(leg_id)
        for link_id in list(self._links):
            self._close_link(link_id)
        for waiter in self._joined_waiters.values():
            if not waiter.done():
                waiter.set_result(reason)
        self.outgoing.stop()
        self.incoming.stop()
        self.ended.set_result(reason)

    async def _wait_voice(self) -> bool:
        """Wait until our sound reaches the peer; False if the call ended first."""
        await self._until_ended(self.voice_up.wait())
        return self.voice_up.is_set() and self.live

    async def _until_ended(self, awaitable: Any) -> None:
        task = asyncio.ensure_future(awaitable)
        try:
            await asyncio.wait([task, self.ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            task.cancel()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: 'asyncio.Task[None]') -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning('call %s: %s', self.id, error)


class IncomingCall:
    """A call ringing this client: `accept()` or `decline()` it."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.caller = call.peer
        self.id = call.id
        self.inviter: str | None = None  # an invitation into a call going on: who invites…
        self.others: list[str] = []  # …and who else is in it ("alice invites you to a call with bob")

    async def accept(self) -> Call:
        """Answer; raises CallRefused if the call is gone (cancelled, answered elsewhere, missed)."""
        try:
            await self.call.client._act('accept', {'call_id': self.id})
        except CallRefused as refused:
            reason = self.call.ended.result() if self.call.ended.done() else refused.outcome
            raise CallRefused(reason, str(refused)) from None
        return self.call

    async def decline(self) -> None:
        with contextlib.suppress(CallRefused):
            await self.call.client._act('decline', {'call_id': self.id})


class VoiceClient:
    """A VoiceConnect participant without a browser::

        async with VoiceClient('http://127.0.0.1:8080', 'alice', password) as alice:
            call = await alice.call('bob')  # once answered; raises CallRefused otherwise
            await call.play('hello.wav')
            await call.record('reply.wav', seconds=5)
            await call.hang_up()
            incoming = await alice.next_incoming()
            call = await incoming.accept()
            print(await call.ended)  # how it ended: 'completed', ...

    Raises VoiceClientError on entry when the password is wrong or the server cannot be reached.
    `verify_tls=False` accepts a self-signed certificate (a test server).
    """

    def __init__(self, url: str, user: str, password: str, *, verify_tls: bool = True, timeout: float = 15) -> None:
        self.url = url.rstrip('/')
        self.user = user
        self._password = password
        self.verify_tls = verify_tls
        self.timeout = timeout
        self.calls: dict[str, Call] = {}
        self.signed_out: str | None = None  # why the server signed this client out, once it did
        self._incoming: asyncio.Queue[IncomingCall | None] = asyncio.Queue()
        self._presence: list[Callable[[PresenceChange], None]] = []
        self._token: str | None = None
        self._sio: socketio.AsyncClient | None = None
        self._requester: Requester | None = None  # in-process, instead of a socket (see `attached`)
        self._inbox: asyncio.Queue[tuple[str, dict[str, Any]]] | None = None
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    def attached(cls, user: str, request: Requester) -> 'VoiceClient':
        """A client inside the app's process (the Sound test contact): requests go to `request`, and the app hands
        what it has to say to `receive`, instead of a socket."""
        client = cls('', user, '')
        client._requester = request
        return client

    def receive(self, event: str, data: dict[str, Any]) -> None:
        """An event from the server, for a client made with `attached`: handled in order, one after another."""
        if self._inbox is None:
            self._inbox = asyncio.Queue()
            self._reader = asyncio.create_task(self._read_inbox(self._inbox))
        self._inbox.put_nowait((event, data))

    async def _read_inbox(self, inbox: 'asyncio.Queue[tuple[str, dict[str, Any]]]') -> None:
        handlers = self._handlers()
        while True:
            event, data = await inbox.get()
            if (handler := handlers.get(event)) is not None:
                try:
                    await handler(data)
                except Exception:
                    log.exception('handling %s failed', event)

    def _handlers(self) -> dict[str, Callable[[Any], Awaitable[None]]]:
        return {
            wire.CALL: self._on_call,
            wire.SIGNAL: self._on_signal,
            wire.PRESENCE: self._on_presence,
            wire.SIGNED_OUT: self._on_signed_out,
        }

    async def __aenter__(self) -> 'VoiceClient':
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        self._token = await self._sign_in()
        sio = socketio.AsyncClient(
            reconnection=True,
            reconnection_delay=RECONNECT_DELAY_S,
            reconnection_delay_max=RECONNECT_DELAY_MAX_S,
            ssl_verify=self.verify_tls,
            handle_sigint=False,
        )
        for event, handler in self._handlers().items():
            sio.on(event, handler, namespace=NAMESPACE)
        hello = {'token': self._token, 'client_key': secrets.token_urlsafe(16)}
        try:
            await sio.connect(
                self.url,
                namespaces=[NAMESPACE],
                socketio_path=SOCKETIO_PATH,
                transports=['websocket'],
                auth=hello,
                wait_timeout=self.timeout,
            )
        except socketio.exceptions.ConnectionError as error:
            raise VoiceClientError(f'Cannot connect to {self.url}: {error}') from None
        self._sio = sio

    async def close(self) -> None:
        """Hang up, log out (the user goes offline unless signed in elsewhere) and disconnect."""
        for call in list(self.calls.values()):
            if call.live:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(call.hang_up(), 5)
        if self._sio is not None:
            with contextlib.suppress(Exception):
                if self._sio.connected and self.signed_out is None:
                    await self._sio.call('log_out', {}, namespace=NAMESPACE, timeout=5)
            await self._sio.disconnect()
            self._sio = None
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None

    # calls

    async def call(self, name: str) -> Call:
        """Call `name`; returns the call once answered, raises CallRefused with the outcome otherwise."""
        return await self._placed('call_user', {'name': name}, f'{name}: ')

    async def _placed(self, event: str, data: dict[str, Any], unanswered: str) -> Call:
        """Place a call by `event` and return it once answered; CallRefused with the server's code when refused
        before anything rang, or with how it ended (`unanswered` starts that message) when nobody answered."""
        reply = await self._request(event, data)
        if 'error' in reply:  # refused before anything rang: the server's code is the outcome
            raise CallRefused(str(reply.get('code', Refusal.REFUSED)), reply['error'])
        call = self._call_of(reply['call'])
        call.sync(reply['call'])
        await call._until_ended(call.answered.wait())
        if not call.answered.is_set():
            reason = await call.ended
            raise CallRefused(reason, f'{unanswered}{reason}', call_id=call.id)
        return call

    async def leave_message(self, after: CallRefused | str, wav: str | Path) -> str:
        """After a call of this client that nobody answered (`missed`, `offline`, `do_not_disturb`: its CallRefused,
        or its id), leave a message: the server's recorder answers, hears `wav` (up to VOICEMAIL_MAX_S) and keeps
        it for the callee. Returns how the message's own call ended (`completed`: sent); CallRefused if the server
        refuses (`mailbox_full`, `rate_limited`, …)."""
        call_id = after.call_id if isinstance(after, CallRefused) else after
        call = await self._placed('leave_message', {'call_id': call_id}, 'the message was not taken: ')
        await call.play(wav)
        return await call.hang_up()  # Send

    async def next_incoming(self, timeout: float | None = None) -> IncomingCall:
        """The next call ringing this client (TimeoutError after `timeout` seconds; VoiceClientError once signed
        out)."""
        while True:
            incoming = await asyncio.wait_for(self._incoming.get(), timeout)
            if incoming is None:
                self._incoming.put_nowait(None)  # for any other waiter
                raise VoiceClientError(f'Signed out by the server ({self.signed_out}).')
            if incoming.call.live:
                return incoming

    # presence

    def on_presence(self, handler: Callable[[PresenceChange], None]) -> Callable[[], None]:
        """Call `handler` for each change of who is online or in a call; returns the unsubscribe function."""
        self._presence.append(handler)
        return lambda: self._presence.remove(handler) if handler in self._presence else None

    async def online_users(self) -> dict[str, bool]:
        """Everyone else online now, with whether they are in a call."""
        reply = await self._request('online', {})
        return {user['name']: user['in_call'] for user in reply.get('users', [])}

    # the server

    async def _sign_in(self) -> str:
        connector = aiohttp.TCPConnector(ssl=self.verify_tls)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with (
                aiohttp.ClientSession(connector=connector, timeout=timeout) as http,
                http.post(f'{self.url}/api/session', json={'name': self.user, 'password': self._password}) as reply,
            ):
                body = await reply.json(content_type=None) if reply.content_type == 'application/json' else {}
                if reply.status != 200 or 'token' not in body:
                    raise VoiceClientError(str(body.get('error') or f'{self.url} answered HTTP {reply.status}'))
                return str(body['token'])
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise VoiceClientError(f'Cannot reach {self.url}: {error or type(error).__name__}') from None

    async def _request(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        if self._requester is not None:
            return await self._requester(event, data)
        if self._sio is None:
            raise VoiceClientError('Not connected: use `async with VoiceClient(…)` or `await client.open()`.')
        if self.signed_out is not None:
            raise VoiceClientError(f'Signed out by the server ({self.signed_out}).')
        try:
            reply = await self._sio.call(event, data, namespace=NAMESPACE, timeout=self.timeout)
        except socketio.exceptions.SocketIOError as error:
            raise VoiceClientError(f'No answer from {self.url} ({type(error).__name__})') from None
        return reply if isinstance(reply, dict) else {'error': 'unexpected reply'}

    async def _act(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        reply = await self._request(event, data)
        if 'error' in reply:
            raise CallRefused(str(reply.get('code', Refusal.REFUSED)), reply['error'])
        if isinstance(reply.get('call'), dict):
            self._call_of(reply['call']).sync(reply['call'])
        return reply

    async def _signal(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(VoiceClientError):
            reply = await self._request('signal', {'signal': message})
            if 'error' in reply:
                log.warning('signal %s refused: %s', message.get('kind'), reply['error'])

    def _call_of(self, view: CallPayload) -> Call:
        call = self.calls.get(view['id'])
        if call is None:
            call = self.calls[view['id']] = Call(self, view['id'], view['role'], view['peer'])
            call.ended.add_done_callback(lambda _: self.calls.pop(view['id'], None))
        return call

    async def _on_call(self, view: CallPayload) -> None:
        known = view['id'] in self.calls
        if not known and view['state'] == 'ended':
            return
        call = self._call_of(view)
        call.sync(view)
        if not known and call.role == 'callee' and view['state'] == 'ringing' and view['here']:
            self._incoming.put_nowait(IncomingCall(call))
        elif not known and view.get('my_state') == 'ringing' and 'inviter' in view:
            incoming = IncomingCall(call)
            incoming.inviter, incoming.others = view['inviter'], list(view.get('others', []))
            self._incoming.put_nowait(incoming)

    async def _on_signal(self, message: dict[str, Any]) -> None:
        if (call := self.calls.get(str(message.get('call_id')))) is not None:
            try:
                await call.signal(message)
            except Exception as error:  # a peer's bad SDP fails this negotiation, not the client
                log.warning('signaling failed (%s): %s', message.get('kind'), error)

    async def _on_presence(self, data: dict[str, Any]) -> None:
        for change in data.get('changes', []):
            for handler in list(self._presence):
                handler(PresenceChange(change['name'], change['presence']))

    async def _on_signed_out(self, data: dict[str, Any]) -> None:
        self.signed_out = str(data.get('reason'))
        for call in list(self.calls.values()):
            call._finish('signed_out')
        self._incoming.put_nowait(None)
