"""A real Janus Gateway for tests (Debian's `janus` 1.1.2, AudioBridge and WebSockets only): `JanusServer`; and
`BridgePeer`, an aiortc participant joined through the app's `JanusBridge`.

Janus offers no loopback ICE candidates (its ice.c skips loopback interfaces), and the tests run in a private
network namespace where only loopback exists (scripts/test.sh: `unshare --net`). So the helper gives that
namespace a veth pair whose *both* ends stay in it, with addresses from 198.18.0.0/15 (RFC 2544's benchmarking
range, never routed), and binds Janus's ICE to one end. Nothing else is connected to the pair and the namespace
has no other interface, so no packet can leave the machine. The recipe, as root inside the namespace:

    ip link add vcjanus0 type veth peer name vcjanus1
    ip addr add 198.18.0.1/30 dev vcjanus0 && ip addr add 198.18.0.2/30 dev vcjanus1
    ip link set vcjanus0 up && ip link set vcjanus1 up
    # janus.jcfg: general.interface = nat.ice_enforce_list = "198.18.0.1"

The kernel delivers packets between two of its own addresses locally, so an aiortc peer's host candidate
198.18.0.2 (or 198.18.0.1) reaches Janus's 198.18.0.1 at once. `JanusServer` refuses to add the pair in a
namespace that has any interface but loopback and the pair (the machine's own network), with one line saying how
to run the test instead. The configuration is `voiceconnect.bridge.janus_config`'s: a directory per run, only the
two libraries, fresh secrets, no Admin API, no static room.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import socket
import subprocess
from pathlib import Path
from typing import Self

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from voiceconnect.bridge.janus import JanusBridge, Participant, Room
from voiceconnect.bridge.janus_config import JanusConfig
from voiceconnect.client.media import Incoming, Outgoing, read_wav, write_wav

from .audio import write_tone_wav
from .servers import Server, free_port

VETH = ('vcjanus0', 'vcjanus1')
VETH_ADDRESSES = ('198.18.0.1', '198.18.0.2')  # Janus's end, the peers' end; RFC 2544 benchmarking range


def _interfaces() -> set[str]:
    return {name for _, name in socket.if_nameindex()}


def add_veth_pair() -> str:
    """The veth pair of the module's docstring, in this network namespace; Janus's address. Refuses (RuntimeError)
    in a namespace with any other interface than loopback: that would be the machine's own network."""
    present = _interfaces()
    if VETH[0] in present:
        return VETH_ADDRESSES[0]
    others = sorted(present - {'lo', *VETH})
    if others:
        raise RuntimeError(
            f'JanusServer adds a veth pair only in a private network namespace, and this one has {", ".join(others)}: '
            'run the tests with scripts/test.sh (it runs pytest under `unshare --net`)'
        )
    commands = [
        ['ip', 'link', 'add', VETH[0], 'type', 'veth', 'peer', 'name', VETH[1]],
        ['ip', 'addr', 'add', f'{VETH_ADDRESSES[0]}/30', 'dev', VETH[0]],
        ['ip', 'addr', 'add', f'{VETH_ADDRESSES[1]}/30', 'dev', VETH[1]],
        ['ip', 'link', 'set', VETH[0], 'up'],
        ['ip', 'link', 'set', VETH[1], 'up'],
    ]
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        if done.returncode:
            raise RuntimeError(f'{" ".join(command)}: {done.stderr.strip()} (it needs root in the namespace)')
    return VETH_ADDRESSES[0]


class JanusServer(Server):
    """Debian's janus on a free loopback port for its WebSocket API, ICE on the veth pair (see the module).

    `url`, `api_secret` and `admin_key` are what the app's JANUS_URL, JANUS_API_SECRET and JANUS_ADMIN_KEY would be.
    `crash()` (SIGKILL) and `pause()` (SIGSTOP: a hung Janus) come from `Server`."""

    what = 'janus'
    stop_signal = signal.SIGINT  # janus's own graceful stop
    signal_group = False
    start_timeout_s = 15.0
    poll_interval_s = 0.05

    def __init__(self, directory: Path, port: int | None = None, session_timeout_s: int = 30) -> None:
        super().__init__(Path(directory) / 'janus.log', cwd=Path(directory))
        self.config = JanusConfig(
            Path(directory),
            port or free_port(),
            session_timeout_s=session_timeout_s,
            ice_address=VETH_ADDRESSES[0],
            rtp_port_range='20000-29999',
        )

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def api_secret(self) -> str:
        return self.config.api_secret

    @property
    def admin_key(self) -> str:
        return self.config.admin_key

    @property
    def pid(self) -> int:
        assert self.process is not None, 'janus is not running'
        return self.process.pid

    def command(self) -> list[str]:
        return self.config.command()

    def start(self, timeout: float | None = None) -> Self:
        add_veth_pair()
        self.config.write()
        return super().start(timeout)

    def answers(self) -> bool:
        """Its WebSocket port accepts (janus opens it last, once the AudioBridge is loaded)."""
        try:
            with socket.create_connection(('127.0.0.1', self.config.ws_port), timeout=0.3):
                return True
        except OSError:
            return False


class BridgePeer:
    """A participant as a test (or a benchmark) makes one: an aiortc peer connection that plays a tone and keeps
    what it hears of the room's mix, joined through a `JanusBridge` with its token."""

    def __init__(self, tone_hz: float, directory: Path) -> None:
        self.tone_hz = tone_hz
        self.directory = Path(directory)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.outgoing = Outgoing()
        self.incoming = Incoming()
        self.pc.addTrack(self.outgoing)
        self.pc.on('track', self.incoming.follow)
        self.participant: Participant | None = None
        tone = write_tone_wav(self.directory / f'tone-{tone_hz:g}.wav', tone_hz, seconds=1)
        self._tone = read_wav(tone)

    def speak(self, seconds: float = 60) -> None:
        """Play the tone for `seconds` (after what is queued)."""
        for _ in range(max(1, round(seconds))):
            self.outgoing.play(self._tone)

    def hush(self) -> None:
        self.outgoing.clear()

    async def join(self, bridge: JanusBridge, room: Room, token: str, timeout: float = 10) -> Participant:
        """Offer, join with the token, take Janus's answer; returns once Janus's mix is heard."""
        await self.pc.setLocalDescription(await self.pc.createOffer())  # aiortc gathers every candidate first
        self.participant = await bridge.join(room, token, self.pc.localDescription.sdp, display=f'{self.tone_hz:g} Hz')
        await self.pc.setRemoteDescription(RTCSessionDescription(self.participant.answer_sdp, 'answer'))
        await asyncio.wait_for(self.incoming.heard.wait(), timeout)
        return self.participant

    async def record(self, seconds: float) -> Path:
        """The next `seconds` of the mix as a WAV file (48 kHz mono)."""
        path = self.directory / f'heard-{self.tone_hz:g}-{secrets.token_hex(3)}.wav'
        return write_wav(path, await self.incoming.record(seconds))

    async def close(self) -> None:
        self.incoming.stop()
        self.outgoing.stop()
        await self.pc.close()
