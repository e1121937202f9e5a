"""The `voiceconnect` command against real Chromium: a browser calls `voiceconnect answer --play --record` and
each hears the other's tone; the command's call to a browser that declines exits non-zero saying `declined`."""

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect

from voiceconnect.testing.audio import dominant_frequency, write_tone_wav
from voiceconnect.testing.probes import wait_for_tone
from voiceconnect.testing.servers import AppServer
from voiceconnect.testing.waiting import wait_until

COMMAND = Path(sys.executable).parent / 'voiceconnect'  # the console script
CLI_TONE_HZ = 660


def voiceconnect(server: AppServer, user: str, password: str, *args: str) -> subprocess.Popen[str]:
    env = {'VOICECONNECT_PASSWORD': password, 'PATH': '/usr/bin:/bin'}
    return subprocess.Popen(
        [str(COMMAND), *args, '--server', server.url, '--user', user],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_browser_calls_the_command_and_each_hears_the_other(vc_server: AppServer, people, tmp_path: Path) -> None:
    (alice,) = people(1)
    bot, password = vc_server.add_user()
    tone = write_tone_wav(tmp_path / 'tone.wav', CLI_TONE_HZ, seconds=8)
    recording = tmp_path / 'out.wav'
    cli = voiceconnect(vc_server, bot, password, 'answer', '--play', str(tone), '--record', str(recording))
    try:
        alice.page.get_by_role('button', name=f'Call {bot}').click()
        expect(alice.page.get_by_text(f'In call with {bot}')).to_be_visible()
        wait_for_tone(alice.page, CLI_TONE_HZ)  # the browser hears the command's tone
        out, err = cli.communicate(timeout=30)
    finally:
        cli.kill()
    assert cli.returncode == 0, err
    assert out.splitlines()[-1] == 'ended: completed', out
    assert abs(dominant_frequency(recording) - alice.tone_hz) <= 15  # the command heard the browser's tone
    expect(alice.page.get_by_text('Call ended')).to_be_visible()


def test_the_command_calling_a_browser_that_declines_exits_non_zero(vc_server: AppServer, people) -> None:
    (alice,) = people(1)
    bot, password = vc_server.add_user()
    cli = voiceconnect(vc_server, bot, password, 'call', alice.name)
    try:
        dialog = alice.page.get_by_role('dialog')
        expect(dialog).to_contain_text('Incoming call')
        expect(dialog).to_contain_text(bot)
        dialog.get_by_role('button', name='Decline').click()
        out, err = cli.communicate(timeout=20)
    finally:
        cli.kill()
    assert cli.returncode == 1, err
    assert out.splitlines()[-1] == 'declined'
    assert err == ''
    wait_until(lambda: f'🙅 Call declined: {bot} → {alice.name}' in vc_server.log_text(), 'the decline is logged')


def test_the_echo_command_plays_back_what_a_caller_says(vc_server: AppServer, tmp_path: Path) -> None:
    """`voiceconnect echo` answers, and the caller (here the command too) hears its own tone come back."""
    bot, bot_password = vc_server.add_user()
    caller, caller_password = vc_server.add_user()
    echo = voiceconnect(vc_server, bot, bot_password, 'echo')
    try:
        wait_until(lambda: f'📞 User joined: {bot}' in vc_server.log_text(), 'the echo bot is online')
        tone = write_tone_wav(tmp_path / 'tone.wav', 990, seconds=6)
        recording = tmp_path / 'echoed.wav'
        call = voiceconnect(
            vc_server,
            caller,
            caller_password,
            'call',
            bot,
            '--play',
            str(tone),
            '--record',
            str(recording),
            '--seconds',
            '4',
        )
        _, err = call.communicate(timeout=30)
        assert call.returncode == 0, err
        assert abs(dominant_frequency(recording) - 990) <= 15
        assert echo.poll() is None  # it goes on answering
    finally:
        echo.kill()
        echo.wait(5)
