"""The recorder of messages (voicemail): after a call nobody answered, its caller may leave a message.

`Leave a message` places a call of its own from the caller to their session of the recorder, `Voicemail/<caller>`
(calls/machine.py `VOICEMAIL`), through the same state machine, limits and authority checks as any call
(connections/device.py `leave_message`); the callee is never rung. The recorder answers it the way the Sound test
does: the Python voice client's media code in the app's process, over an in-process transport, as a tab of a
session that never signs in. It records until the caller hangs up (`Send`) or `VOICEMAIL_MAX_S` have passed, and
keeps the message in the callee's mailbox (people/messages.py), whose tabs are told at once (MessagesChanged); with
several processes the recorder runs in the one serving the caller, the file goes to the shared DATA_DIR and the
news through the hub. It costs nothing while unused, and one caller has one recorder at a time.
"""

import asyncio
import logging
from dataclasses import dataclass

from ..calls.machine import VOICEMAIL, CallError, contact_session
from ..client import VoiceClient
from ..client.voice_client import Call
from ..connections.device import Device
from ..connections.events import MessagesChanged
from ..connections.service import ConnectionService
from ..logs import call_fields
from ..people.messages import Mailbox, MailboxFull
from .sound_test import ANSWER_WAIT_S, attach_in_process, detach_in_process
from .tabs import Programs

log = logging.getLogger('voiceconnect')

SESSION_SLACK_S = 20.0  # ringing, answering, keeping the file: beyond the message's own length


@dataclass(frozen=True)
class Order:
    """What a caller's recorder session is for: a message to `callee` after their call `call_id`."""

    caller: str
    callee: str
    call_id: str


class Voicemail:
    """The `MessageTaker` of connections/device.py, set on the switchboard by the web layer."""

    def __init__(self, programs: Programs, mailbox: Mailbox, max_s: float) -> None:
        self.programs = programs
        self.mailbox = mailbox
        self.max_s = max_s
        self.sessions: dict[str, asyncio.Task[None]] = {}  # caller → their recorder

    async def session_for(self, caller: str, callee: str, call_id: str) -> str:
        if caller in self.sessions:
            raise CallError('You are leaving a message already.')
        user = contact_session(VOICEMAIL, caller)
        client, device, service = await attach_in_process(self.programs, user, 'voicemail')
        task = asyncio.create_task(self._serve(Order(caller, callee, call_id), client, device, service))
        self.sessions[caller] = task
        task.add_done_callback(lambda _: self.sessions.pop(caller, None))
        return user

    async def _serve(self, order: Order, client: VoiceClient, device: Device, service: ConnectionService) -> None:
        try:
            async with asyncio.timeout(self.max_s + SESSION_SLACK_S):
                incoming = await client.next_incoming(timeout=ANSWER_WAIT_S)
                if incoming.caller != order.caller:
                    await incoming.decline()
                    return
                await self._record(order, await incoming.accept())
        except TimeoutError:
            pass
        except Exception:
            log.exception('the recorder of a message from %s failed', order.caller)
        finally:
            await detach_in_process(client, device, service)

    async def _record(self, order: Order, call: Call) -> None:
        """Record until the caller hangs up (Send) or the message is as long as allowed, then keep it."""
        pcm = await call.record_pcm(self.max_s)
        if call.live:
            await call.hang_up()
        if not pcm:
            return  # the call ended before any sound came
        try:
            row = await self.mailbox.save(
                order.call_id, order.caller, order.callee, pcm, self.programs.switchboard.clock.now()
            )
        except MailboxFull:
            log.info('📪 Message not kept: %s → %s (mailbox full)', order.caller, order.callee)
            return
        log.info(
            '📼 Message left: %s → %s (%ds)',
            order.caller,
            order.callee,
            round(row.duration_s),
            extra=call_fields(order.caller, order.callee, order.call_id, duration_s=round(row.duration_s)),
        )
        self.programs.switchboard.hub.tell(order.callee, MessagesChanged())
