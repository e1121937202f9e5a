"""The mailbox (people/messages.py) in a real SQLite store and data dir: quotas by count and bytes, a message only its
callee reads or deletes, the missed count and Recent calls that show it, the messages' own calls kept out of the
history. The whole flow with media is in tests/e2e/test_voicemail.py."""

import math
import stat
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from voiceconnect.calls.machine import CallError, Refusal, contact_session
from voiceconnect.clock import FakeClock
from voiceconnect.connections.memory_hub import InMemoryHub
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.people.db import Store
from voiceconnect.people.directory import People
from voiceconnect.people.history import CallHistory
from voiceconnect.people.messages import Mailbox, MailboxFull, encode_opus
from voiceconnect.settings import Timeouts

from .helpers import FakeTab

NOW = 1_700_000_000.0


def tone_pcm(seconds: float, hz: float = 440.0) -> bytes:
    count = int(seconds * 48_000)
    return b''.join(struct.pack('<h', int(8000 * math.sin(2 * math.pi * hz * i / 48_000))) for i in range(count))


async def unanswered_call(store: Store, call_id: str, caller: str, callee: str, at: float, reason: str) -> None:
    when = datetime.fromtimestamp(at, UTC)
    await store.finish_call(call_id, caller, callee, when, None, when, reason)


@pytest.fixture
def mailbox(store: Store, tmp_path: Path) -> Mailbox:
    return Mailbox(store, tmp_path / 'messages', max_messages=2, max_bytes=1_000_000)


async def test_a_mailbox_full_by_count_or_by_bytes_refuses_and_keeps_nothing(mailbox: Mailbox, tmp_path: Path) -> None:
    pcm = tone_pcm(2)
    for n in range(2):
        await mailbox.save(f'call{n}', 'alice', 'bob', pcm, NOW)
    with pytest.raises(MailboxFull) as full:
        await mailbox.check_room('bob')
    assert str(full.value) == "bob's mailbox is full: they cannot take a message now."
    assert full.value.code == Refusal.MAILBOX_FULL
    with pytest.raises(MailboxFull):
        await mailbox.save('call2', 'carol', 'bob', pcm, NOW)
    assert len(list(mailbox.folder.iterdir())) == 2  # the refused one left no file
    await mailbox.check_room('carol')  # quotas are per callee

    one = (await mailbox.store.mailbox_usage('bob'))[1] // 2
    small = Mailbox(mailbox.store, tmp_path / 'small', max_messages=10, max_bytes=one + one // 2)
    await small.save('call3', 'alice', 'dave', pcm, NOW)
    with pytest.raises(MailboxFull):  # a second would pass the bytes
        await small.save('call4', 'alice', 'dave', pcm, NOW)
    assert len(list(small.folder.iterdir())) == 1


async def test_a_message_is_its_callees_alone_to_read_and_delete(mailbox: Mailbox) -> None:
    row = await mailbox.save('call0', 'alice', 'bob', tone_pcm(1), NOW)
    path = mailbox.folder / row.file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(mailbox.folder.stat().st_mode) == 0o700
    for stranger in ('alice', 'carol', 'Bob'):  # not even its caller, nor the name in other letters
        assert await mailbox.message_for(row.id, stranger) is None
        assert await mailbox.delete(row.id, stranger) is False
    assert path.exists()
    found = await mailbox.message_for(row.id, 'bob')
    assert found is not None and found.path == path
    # an account of the name made after the old one was removed (its history starts later) finds nothing
    assert await mailbox.message_for(row.id, 'bob', since=datetime.fromtimestamp(NOW + 1, UTC)) is None
    assert await mailbox.delete(row.id, 'bob') is True
    assert not path.exists() and await mailbox.message_for(row.id, 'bob') is None


async def test_opus_keeps_a_minute_in_a_few_hundred_kilobytes() -> None:
    size = len(encode_opus(tone_pcm(60)))
    assert 100_000 < size < 400_000, size  # 311 KB measured for a tone; 48 kHz 16-bit WAV would be 5.76 MB


async def test_a_message_shows_on_its_callees_recent_call_and_counts_as_missed_once_until_seen(
    store: Store, mailbox: Mailbox
) -> None:
    people = People(store, mailbox)
    await unanswered_call(store, 'c1', 'alice', 'bob', NOW, 'offline')
    assert await people.missed_count('bob') == 1
    await people.mark_missed_seen('bob', NOW + 10)
    assert await people.missed_count('bob') == 0
    row = await mailbox.save('c1', 'alice', 'bob', tone_pcm(1), NOW + 20)  # left after Bob last looked
    assert await people.missed_count('bob') == 1  # the same call, counted once
    (bob_sees,) = await people.recent_calls('bob', 50)
    assert (bob_sees.message, bob_sees.message_s) == (row.id, 1.0)
    (alice_sees,) = await people.recent_calls('alice', 50)
    assert alice_sees.message is None  # the caller has no player for it
    await people.mark_missed_seen('bob', NOW + 30)
    assert await people.missed_count('bob') == 0


async def test_a_message_follows_only_its_callers_own_unanswered_call_once(store: Store, mailbox: Mailbox) -> None:
    await unanswered_call(store, 'c1', 'alice', 'bob', NOW, 'missed')
    await unanswered_call(store, 'c2', 'alice', 'bob', NOW, 'declined')
    await unanswered_call(store, 'c3', 'alice', 'bob', NOW - 3600, 'do_not_disturb')
    assert await mailbox.call_to_follow('c1', 'alice', NOW + 5) == 'bob'
    for call_id, caller, why in [
        ('c1', 'bob', 'no unanswered call of yours'),  # the callee cannot leave one on the caller's call
        ('c1', 'carol', 'no unanswered call of yours'),
        ('c2', 'alice', 'no unanswered call of yours'),  # declined: Bob chose not to take it
        ('c3', 'alice', 'too long ago'),
    ]:
        with pytest.raises(CallError, match=why):
            await mailbox.call_to_follow(call_id, caller, NOW + 5)
    await mailbox.save('c1', 'alice', 'bob', tone_pcm(1), NOW)
    with pytest.raises(CallError, match='already'):
        await mailbox.call_to_follow('c1', 'alice', NOW + 5)


async def test_a_messages_own_call_writes_no_history_row(store: Store) -> None:
    history = CallHistory(store)
    history.start()
    board = Switchboard(FakeClock(start=NOW), InMemoryHub(), history, Timeouts(), people=None)
    alice = await board.attach(await board.service_for('b', 'alice', 't'), 'alice-tab', FakeTab())
    recorder = contact_session('Voice mail', 'alice')
    await board.attach(await board.service_for('vm', recorder, ''), 'recorder-tab', FakeTab())
    view = await alice.call_user('bob')  # nobody: ends offline, one row
    call = await board.calls.place_call('alice', alice.id, recorder)
    await alice.hang_up(call.id)
    await history.stop()
    assert [(await store.get_call(view.id)) is not None, await store.get_call(call.id)] == [True, None]
