"""The `Sound test` contact: listed for everyone, always online and never busy, it answers, records a few seconds
of what you say and plays them back, so a person can check microphone and speakers before a real call (the way
Skype's echo service did).

Each caller gets a session of their own: a tab of the user `Sound test/<caller>` (calls/machine.py: no account name has
a '/', and people see `Sound test`) attached to the switchboard when the caller dials, answered by the Python voice
client's own code running in the app's process over an in-process transport instead of a socket. It costs nothing
while unused: no tab, no peer connection. It is limited so that it cannot be used to exhaust the server: one
session per caller, `MAX_SESSION_S` at most, and dialling it counts against `CALLS_PER_MINUTE` like any call.
Its session never signs in, so it makes no presence news.
"""

import asyncio
import contextlib
import logging
from typing import Any

from ..calls.machine import contact_session, new_id
from ..client import VoiceClient
from ..client.voice_client import Call
from ..connections.device import Device
from ..connections.service import ConnectionService
from .tabs import ProgramConnection, Programs, ProgramTab

log = logging.getLogger('voiceconnect')

SOUND_TEST = 'Sound test'
RECORD_S = 5.0  # what is recorded, then played back
ANSWER_WAIT_S = 10.0  # a session whose call never rings ends (e.g. the caller was already in a call)
MAX_SESSION_S = 60.0  # ring, record, play back: never longer


async def attach_in_process(
    programs: Programs, user: str, browser: str
) -> tuple[VoiceClient, Device, ConnectionService]:
    """A tab of `user` whose events go to a voice client in this process, and whose requests that client makes
    (a built-in participant: the Sound test, the recorder of messages)."""
    board = programs.switchboard
    service = ConnectionService(user, browser=browser, token='')  # not a sign-in: no presence
    connection: list[ProgramConnection] = []

    async def request(event: str, data: dict[str, Any]) -> dict[str, Any]:
        return await connection[0].handle(event, data)

    client = VoiceClient.attached(user, request)
    tab = ProgramTab(client.receive, programs.ice_servers, on_signed_out=lambda: None)
    device = await board.attach(service, new_id('p'), tab)
    connection.append(ProgramConnection(programs, device, '', tab, ''))
    return client, device, service


async def detach_in_process(client: VoiceClient, device: Device, service: ConnectionService) -> None:
    """The participant's calls end and its tab goes."""
    for call in list(client.calls.values()):
        with contextlib.suppress(Exception):
            await call.hang_up()
    await device.detach()
    service.close()  # no grace: nobody will come back to this tab
    await client.close()


class SoundTest:
    """The contact (`Contact` in connections/device.py), registered in the switchboard's contacts by the web layer."""

    def __init__(self, programs: Programs, record_s: float = RECORD_S, max_session_s: float = MAX_SESSION_S) -> None:
        self.programs = programs
        self.record_s = record_s
        self.max_session_s = max_session_s
        self.sessions: dict[str, asyncio.Task[None]] = {}  # caller → their session

    async def session_for(self, caller: str) -> str:
        user = contact_session(SOUND_TEST, caller)
        if caller not in self.sessions:  # one session per caller
            client, device, service = await attach_in_process(self.programs, user, 'sound-test')
            task = asyncio.create_task(self._serve(caller, client, device, service))
            self.sessions[caller] = task
            task.add_done_callback(lambda _: self.sessions.pop(caller, None))
        return user

    async def _serve(self, caller: str, client: VoiceClient, device: Device, service: ConnectionService) -> None:
        try:
            async with asyncio.timeout(self.max_session_s):
                incoming = await client.next_incoming(timeout=ANSWER_WAIT_S)
                if incoming.caller != caller:
                    await incoming.decline()
                    return
                await self._echo(await incoming.accept())
        except TimeoutError:
            pass
        except Exception:
            log.exception('the sound test for %s failed', caller)
        finally:
            await detach_in_process(client, device, service)

    async def _echo(self, call: Call) -> None:
        """Record what the caller says, play it back, hang up."""
        recorded = await call.record_pcm(self.record_s)
        await call.play_pcm(recorded)
        await call.hang_up()
