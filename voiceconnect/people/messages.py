"""The mailbox: messages callers leave after a call of theirs that nobody answered (voicemail).

A message is Opus in WebM (what every browser plays; 0.25 to 0.3 MB a minute) in a file of its own under
`DATA_DIR/messages`, private like the rest of the data dir (0600), with a row in the store naming the call it
follows, its caller and callee. Each callee's mailbox holds at most `VOICEMAIL_MESSAGES_PER_USER` messages and
`VOICEMAIL_BYTES_PER_USER` bytes: a caller finds out before recording (`MailboxFull`), and a message that would pass
the bytes is not kept. Only its callee may read or delete a message; to anyone else it does not exist.
"""

import asyncio
import contextlib
import io
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import av

from ..calls.machine import CallError, Refusal
from ..calls.views import MESSAGE_MAY_FOLLOW
from .db import MessageRow, Store
from .history import utc

OFFER_S = 600.0  # how long after such a call its caller may still leave a message
ROW_WAIT_S = 3.0  # the history writes a call's row a moment after it ends: a click right then waits for it
RATE = 48_000  # the voice client's PCM: 48 kHz mono 16-bit
FRAME = 960  # 20 ms, an Opus frame
BIT_RATE = 24_000  # speech is clear at this in Opus
NO_SUCH_CALL = 'There is no unanswered call of yours to leave a message after.'


class MailboxFull(CallError):
    def __init__(self, callee: str) -> None:
        super().__init__(f"{callee}'s mailbox is full: they cannot take a message now.", Refusal.MAILBOX_FULL)


@dataclass(frozen=True)
class StoredMessage:
    row: MessageRow
    path: Path


def encode_opus(pcm: bytes) -> bytes:
    """48 kHz mono 16-bit PCM as Opus in WebM."""
    out = io.BytesIO()
    with av.open(out, 'w', format='webm') as container:
        stream = container.add_stream('libopus', rate=RATE)
        stream.bit_rate = BIT_RATE
        stream.layout = 'mono'
        step = FRAME * 2
        for start in range(0, len(pcm), step):
            frame = av.AudioFrame(format='s16', layout='mono', samples=FRAME)
            frame.planes[0].update(pcm[start : start + step].ljust(step, b'\0'))
            frame.sample_rate = RATE
            frame.pts = start // 2
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


class Mailbox:
    def __init__(self, store: Store, folder: Path, max_messages: int, max_bytes: int) -> None:
        self.store = store
        self.folder = folder
        self.max_messages = max_messages
        self.max_bytes = max_bytes

    async def call_to_follow(self, call_id: str, caller: str, now: float) -> str:
        """The callee of `caller`'s call `call_id` if a message may follow it (unanswered for a reason in
        MESSAGE_MAY_FOLLOW, ended within OFFER_S, no message yet); CallError otherwise."""
        row = await self.store.get_call(call_id)
        for _ in range(int(ROW_WAIT_S / 0.1)):
            if row is not None and row.ended is not None:
                break
            await asyncio.sleep(0.1)
            row = await self.store.get_call(call_id)
        if row is None or row.caller != caller or row.ended is None:
            raise CallError(NO_SUCH_CALL)
        if row.answered is not None or row.end_reason not in MESSAGE_MAY_FOLLOW:
            raise CallError(NO_SUCH_CALL)
        if row.ended < utc(now) - timedelta(seconds=OFFER_S):
            raise CallError('That call was too long ago to leave a message after it.')
        if await self.store.message_of_call(call_id) is not None:
            raise CallError('You left a message after that call already.')
        return row.callee

    async def check_room(self, callee: str, adding: int = 0) -> None:
        """MailboxFull unless `callee`'s mailbox takes one more message of `adding` bytes."""
        count, size = await self.store.mailbox_usage(callee)
        if count >= self.max_messages or size + adding > self.max_bytes or size >= self.max_bytes:
            raise MailboxFull(callee)

    async def save(self, call_id: str, caller: str, callee: str, pcm: bytes, now: float) -> MessageRow:
        """Keep a message; MailboxFull (nothing kept) if it does not fit."""
        sound = await asyncio.to_thread(encode_opus, pcm)
        await self.check_room(callee, len(sound))
        message_id = secrets.token_urlsafe(16)
        file = f'{message_id}.webm'
        await asyncio.to_thread(self._write, file, sound)
        row = MessageRow(
            id=message_id,
            call_id=call_id,
            caller=caller,
            callee=callee,
            created=utc(now),
            duration_s=len(pcm) / 2 / RATE,
            size=len(sound),
            file=file,
        )
        try:
            await self.store.add_message(row)
        except Exception:
            self._remove(file)
            raise
        return row

    async def message_for(self, message_id: str, user: str, since: datetime | None = None) -> StoredMessage | None:
        """The message, if `user` is its callee (and it came after `since`, when an earlier account of the name was
        removed); None for anyone else, and for ids that are nobody's."""
        row = await self.store.get_message(message_id)
        if row is None or row.callee != user or (since is not None and row.created <= since):
            return None
        return StoredMessage(row, self.folder / row.file)

    async def delete(self, message_id: str, user: str, since: datetime | None = None) -> bool:
        """Its file and row go; False if `user` has no such message."""
        found = await self.message_for(message_id, user, since)
        if found is None:
            return False
        await self.store.delete_message(message_id)
        self._remove(found.row.file)
        return True

    def _write(self, file: str, sound: bytes) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.folder / file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as out:
            out.write(sound)

    def _remove(self, file: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / file).unlink()
