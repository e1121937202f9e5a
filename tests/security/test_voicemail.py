"""Voicemail against a real app process, as strangers and other users try it: a message is served only to its
callee's signed-in browser (404 for another user, a signed-out browser, a copy of the callee's cookie after Log out,
and ids that are nobody's, all alike); a full mailbox refuses the caller saying why; leaving messages counts
against CALLS_PER_MINUTE. Bounded: a handful of requests each."""

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import expect

from voiceconnect.client import CallRefused, VoiceClient
from voiceconnect.testing.audio import write_tone_wav
from voiceconnect.testing.servers import AppServer

T = TypeVar('T')


async def message_after_offline_call(server: AppServer, callee: str, tone: Path) -> str:
    """A program leaves `callee` a message after calling them while they are not taking calls; its caller."""
    caller, password = server.add_user()
    async with VoiceClient(server.url, caller, password) as client:
        with pytest.raises(CallRefused) as refused:
            await client.call(callee)
        assert await client.leave_message(refused.value, tone) == 'completed'
    server.wait_for_log(f'📼 Message left: {caller} → {callee}')
    return caller


def in_a_thread(work: Coroutine[Any, Any, T]) -> T:
    """Run a program's coroutine beside Playwright's sync API (which holds this thread's event loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result(timeout=60)


def fetch(server: AppServer, path: str, cookies: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(base_url=server.url, cookies=cookies or {}, trust_env=False, timeout=15) as http:
        return http.get(path, follow_redirects=False)


def test_only_the_callees_signed_in_browser_gets_a_message(vc_server: AppServer, people, tmp_path: Path) -> None:
    bob, mallory = people(2)
    bob.page.get_by_role('switch', name='Do not disturb').click()
    expect(mallory.page.locator('.q-badge', has_text='Do not disturb')).to_be_visible()
    alice = in_a_thread(message_after_offline_call(vc_server, bob.name, write_tone_wav(tmp_path / 't.wav', 550, 2)))
    player = bob.page.get_by_label(f'Message from {alice}')
    expect(player).to_be_visible()
    path = player.get_attribute('src')
    assert path is not None and path.startswith('/messages/')

    own = bob.context.request.get(vc_server.url + path)
    assert own.status == 200 and own.body()[:4] == b'\x1a\x45\xdf\xa3'  # WebM
    assert own.headers['content-type'] == 'audio/webm'
    assert own.headers['cache-control'] == 'private, no-store'

    nobodys = fetch(vc_server, '/messages/' + 'x' * 22)
    copied = {c['name']: c['value'] for c in bob.context.cookies()}
    refused = {
        'another user': mallory.context.request.get(vc_server.url + path),
        'a signed-out browser': fetch(vc_server, path),
        'an overlong id': fetch(vc_server, '/messages/' + 'x' * 500),
    }
    bob.page.get_by_role('button', name='Log out').click()
    expect(bob.page.get_by_label('Username')).to_be_visible()
    refused['a copy of the cookie after Log out'] = fetch(vc_server, path, copied)
    refused['the browser after Log out'] = bob.context.request.get(vc_server.url + path)
    for who, answer in refused.items():
        status = answer.status_code if isinstance(answer, httpx.Response) else answer.status
        body = answer.content if isinstance(answer, httpx.Response) else answer.body()
        assert (status, body) == (nobodys.status_code, nobodys.content) == (404, b'Not Found'), who
    assert 'Traceback' not in vc_server.log_text()


@pytest.mark.parametrize('vc_settings', [{'VOICEMAIL_MESSAGES_PER_USER': 1}], indirect=True)
def test_a_full_mailbox_refuses_the_caller_saying_why(vc_server: AppServer, people, tmp_path: Path) -> None:
    bob, carol = people(2)
    bob.page.get_by_role('switch', name='Do not disturb').click()
    expect(carol.page.locator('.q-badge', has_text='Do not disturb')).to_be_visible()
    in_a_thread(message_after_offline_call(vc_server, bob.name, write_tone_wav(tmp_path / 't.wav', 550, 2)))

    carol.page.get_by_role('button', name=f'Call {bob.name}', exact=True).click()
    expect(carol.page.get_by_text(f'{bob.name} is not taking calls')).to_be_visible()
    carol.page.get_by_role('button', name='Leave a message').click()
    expect(carol.page.get_by_text(f"{bob.name}'s mailbox is full: they cannot take a message now.")).to_be_visible()
    expect(carol.page.get_by_text('Recording…')).to_have_count(0)
    assert f'Call initiated: {carol.name} → Voice mail' not in vc_server.log_text()  # nothing was recorded
    assert len(list((vc_server.data_dir / 'messages').iterdir())) == 1


@pytest.mark.parametrize('vc_settings', [{'CALLS_PER_MINUTE': 3}], indirect=True)
def test_leaving_messages_counts_against_calls_per_minute(vc_server: AppServer, tmp_path: Path) -> None:
    (alice, password), (bob, _) = vc_server.add_user(), vc_server.add_user()
    tone = write_tone_wav(tmp_path / 't.wav', 550, 1)

    async def four_attempts() -> CallRefused:
        async with VoiceClient(vc_server.url, alice, password) as client:
            with pytest.raises(CallRefused) as first:
                await client.call(bob)  # 1
            await client.leave_message(first.value, tone)  # 2
            with pytest.raises(CallRefused) as second:
                await client.call(bob)  # 3
            with pytest.raises(CallRefused) as limited:
                await client.leave_message(second.value, tone)  # 4: one too many
            return limited.value

    limited = in_a_thread(four_attempts())  # (beside the module's Playwright, which holds this thread's loop)
    assert limited.outcome == 'rate_limited'
    assert str(limited).startswith('You are calling too often. Try again in')
