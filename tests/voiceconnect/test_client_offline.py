"""The Python voice client's parts that need no server: WAV in and out, and the command's answers to bad input
(each one line on stderr and an exit status, never a traceback)."""

import struct
import time
import wave
from pathlib import Path

import pytest

from voiceconnect.client import cli
from voiceconnect.client.media import RATE, AudioFormatError, read_wav, write_wav
from voiceconnect.testing.audio import dominant_frequency, write_tone_wav


@pytest.mark.parametrize('rate', [8000, 16000, 44100, 48000])
def test_a_wav_of_any_common_rate_becomes_48_khz_mono(tmp_path: Path, rate: int) -> None:
    source = write_tone_wav(tmp_path / 'in.wav', 550, seconds=1, rate=rate)
    pcm = read_wav(source)
    assert abs(len(pcm) / 2 - RATE) < RATE * 0.01
    assert abs(dominant_frequency(write_wav(tmp_path / 'out.wav', pcm)) - 550) <= 5


def test_a_stereo_wav_is_mixed_to_mono(tmp_path: Path) -> None:
    mono = read_wav(write_tone_wav(tmp_path / 'mono.wav', 440, seconds=1))
    with wave.open(str(tmp_path / 'stereo.wav'), 'wb') as stereo:
        stereo.setnchannels(2)
        stereo.setsampwidth(2)
        stereo.setframerate(RATE)
        stereo.writeframes(b''.join(mono[i : i + 2] * 2 for i in range(0, len(mono), 2)))
    assert abs(len(read_wav(tmp_path / 'stereo.wav')) - len(mono)) <= 4


def test_anything_but_16_bit_pcm_wav_is_refused(tmp_path: Path) -> None:
    (tmp_path / 'song.mp3').write_bytes(b'ID3 not a wav')
    with pytest.raises(AudioFormatError, match='not a PCM WAV'):
        read_wav(tmp_path / 'song.mp3')
    with wave.open(str(tmp_path / '8bit.wav'), 'wb') as eight_bit:
        eight_bit.setnchannels(1)
        eight_bit.setsampwidth(1)
        eight_bit.setframerate(8000)
        eight_bit.writeframes(bytes(800))
    with pytest.raises(AudioFormatError, match='16-bit mono or stereo is needed'):
        read_wav(tmp_path / '8bit.wav')


def wav_bytes(
    rate: int = RATE, channels: int = 1, width: int = 2, frames: int | None = None, data: bytes = b''
) -> bytes:
    """A PCM WAV file as a hostile tool writes it: any header fields, `frames` declared whatever the data holds."""
    block = channels * width
    fmt = struct.pack('<HHIIHH', 1, channels, rate, (rate * block) % 2**32, block % 2**16, width * 8)
    size = len(data) if frames is None else frames * block
    body = b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt)) + fmt + b'data' + struct.pack('<I', size % 2**32) + data
    return b'RIFF' + struct.pack('<I', len(body)) + body


HOSTILE_WAVS = {
    'rate 0': (wav_bytes(rate=0, data=bytes(4000)), 'a rate of 0 Hz; 8000 to 192000 Hz is needed'),
    'rate 10 (4 KB that would become 19.2 MB)': (wav_bytes(rate=10, data=bytes(4000)), 'a rate of 10 Hz'),
    'a rate of 4 GHz': (wav_bytes(rate=4_000_000_000, data=bytes(4000)), 'a rate of 4000000000 Hz'),
    '65,535 channels': (wav_bytes(channels=65535, data=bytes(4000)), '65535 channels; 16-bit mono or stereo'),
    'an hour declared': (wav_bytes(rate=8000, frames=3600 * 8000, data=bytes(4000)), '3600 s long; at most 600 s'),
    'truncated data': (wav_bytes(frames=48_000, data=bytes(4000)), 'truncated: its header says 48000 frames'),
}


@pytest.mark.parametrize('hostile', HOSTILE_WAVS, ids=list(HOSTILE_WAVS))
def test_a_hostile_wav_is_refused_in_one_line_before_it_is_read_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, hostile: str
) -> None:
    content, reason = HOSTILE_WAVS[hostile]
    (tmp_path / 'hostile.wav').write_bytes(content)
    monkeypatch.setenv('VOICECONNECT_PASSWORD', 'secret password')
    started = time.monotonic()
    wav = str(tmp_path / 'hostile.wav')
    status, err = run(capsys, 'answer', '--user', 'bot', '--play', wav, '--server', 'http://127.0.0.1:9')
    assert (status, err.count('\n')) == (2, 1), err
    assert err.startswith(f'voiceconnect: {tmp_path / "hostile.wav"}: ') and reason in err
    assert time.monotonic() - started < 1


def test_every_cut_of_a_wav_header_is_refused_as_not_a_wav(tmp_path: Path) -> None:
    whole = wav_bytes(data=bytes(96))
    for cut in range(len(whole)):
        (tmp_path / 'cut.wav').write_bytes(whole[:cut])
        with pytest.raises(AudioFormatError):
            read_wav(tmp_path / 'cut.wav')


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = cli.main(argv)
    return status, capsys.readouterr().err


def test_without_a_password_the_command_says_where_to_put_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv('VOICECONNECT_PASSWORD', raising=False)
    assert run(capsys, 'call', 'bob', '--user', 'alice') == (
        2,
        'voiceconnect: no password: set VOICECONNECT_PASSWORD or use --password-file\n',
    )


def test_the_password_is_never_an_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        cli.main(['call', 'bob', '--user', 'alice', '--password', 'secret'])
    assert usage.value.code == 2


def test_a_bad_play_file_is_said_before_calling(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv('VOICECONNECT_PASSWORD', 'secret password')
    status, err = run(capsys, 'answer', '--user', 'bot', '--play', str(tmp_path / 'missing.wav'))
    assert (status, err) == (2, f'voiceconnect: --play: No such file or directory: {tmp_path / "missing.wav"}\n')


def test_an_unreachable_server_is_one_line_and_status_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv('VOICECONNECT_PASSWORD', raising=False)
    (tmp_path / 'pw').write_text('secret password\n')
    status, err = run(
        capsys,
        'call',
        'bob',
        '--user',
        'alice',
        '--password-file',
        str(tmp_path / 'pw'),
        '--server',
        'http://127.0.0.1:9',
    )
    assert status == 3
    assert err.startswith('voiceconnect: Cannot reach http://127.0.0.1:9')
    assert err.count('\n') == 1
