"""Audio for the Python voice client: what it sends (`Outgoing`, a track that plays queued sound and is silent
otherwise) and what it hears (`Incoming`, which reads the peer's track and hands 48 kHz mono PCM to whoever
listens: recorders, an echo). Sound is 16-bit PCM throughout; WAV files of any common rate, mono or stereo, are
resampled to Opus's 48 kHz with PyAV (which aiortc already depends on).
"""

import asyncio
import contextlib
import fractions
import struct
import time
import wave
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

RATE = 48_000
FRAME_SAMPLES = 960  # 20 ms, Opus's usual frame
FRAME_BYTES = FRAME_SAMPLES * 2
FRAME_S = FRAME_SAMPLES / RATE
SILENCE = bytes(FRAME_BYTES)
TIME_BASE = fractions.Fraction(1, RATE)

Listener = Callable[[bytes], None]


class AudioFormatError(ValueError):
    """A file that is not 16-bit PCM WAV, or not one this client plays (its rate, its length)."""


# What `read_wav` takes, checked on the header before the sound is read: a rate below 8 kHz would be resampled up
# to 48 kHz many times over (a 4 KB file at 10 Hz declares 200 s, 19.2 MB once resampled), and 10 minutes at 48 kHz
# is 57.6 MB in memory, the most a message or a prompt needs.
MIN_RATE, MAX_RATE = 8_000, 192_000
MAX_SECONDS = 600


def read_wav(path: str | Path) -> bytes:
    """The file's sound as 48 kHz mono 16-bit PCM. Raises AudioFormatError (or OSError) for a bad file, with one
    line saying what is wrong with it."""
    try:
        with wave.open(str(path), 'rb') as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.getnframes()
            _check_header(path, channels, width, rate, frames)
            data = wav.readframes(frames)
    except (wave.Error, EOFError, struct.error) as error:
        raise AudioFormatError(f'{path}: not a PCM WAV file ({error})') from None
    if len(data) != frames * channels * width:
        whole = len(data) // (channels * width)
        raise AudioFormatError(f'{path}: truncated: its header says {frames} frames, it holds {whole}')
    if frames == 0:
        return b''
    return resample(data, rate, 'mono' if channels == 1 else 'stereo')


def _check_header(path: str | Path, channels: int, width: int, rate: int, frames: int) -> None:
    if width != 2 or channels not in (1, 2):
        raise AudioFormatError(f'{path}: {width * 8}-bit, {channels} channels; 16-bit mono or stereo is needed')
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFormatError(f'{path}: a rate of {rate} Hz; {MIN_RATE} to {MAX_RATE} Hz is needed')
    if frames > MAX_SECONDS * rate:
        raise AudioFormatError(f'{path}: {frames / rate:.0f} s long; at most {MAX_SECONDS} s is played')


def resample(pcm: bytes, rate: int, layout: str) -> bytes:
    """Interleaved 16-bit PCM at `rate` in `layout` → 48 kHz mono 16-bit PCM."""
    channels = 2 if layout == 'stereo' else 1
    samples = len(pcm) // (2 * channels)
    frame = av.AudioFrame(format='s16', layout=layout, samples=samples)
    frame.planes[0].update(pcm[: samples * 2 * channels])
    frame.sample_rate = rate
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, rate)
    resampler = av.AudioResampler(format='s16', layout='mono', rate=RATE)
    out = bytearray()
    for converted in (*resampler.resample(frame), *resampler.resample(None)):
        out += bytes(converted.planes[0])[: converted.samples * 2]
    return bytes(out)


def write_wav(path: str | Path, pcm: bytes) -> Path:
    """48 kHz mono 16-bit PCM to a WAV file."""
    path = Path(path)
    with wave.open(str(path), 'wb') as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm)
    return path


class Outgoing(MediaStreamTrack):
    """The audio the client sends: queued sound in real time, silence when there is none or while muted."""

    kind = 'audio'

    def __init__(self) -> None:
        super().__init__()
        self.muted = False
        self._queue: deque[tuple[bytes, asyncio.Future[None] | None]] = deque()
        self._partial = b''  # a queued piece shorter than a frame, waiting for the next one
        self._started: float | None = None
        self._pts = 0

    def play(self, pcm: bytes) -> 'asyncio.Future[None]':
        """Queue 48 kHz mono PCM after what is queued; the future is done once the last of it went out."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        data = self._partial + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        chunks = [data[i : i + FRAME_BYTES] for i in range(0, whole, FRAME_BYTES)]
        self._partial = data[whole:]
        if not chunks:
            done.set_result(None)
            return done
        for chunk in chunks[:-1]:
            self._queue.append((chunk, None))
        self._queue.append((chunks[-1], done))
        return done

    def clear(self) -> None:
        """Drop what is queued (its waiters are told it is done)."""
        while self._queue:
            _, done = self._queue.popleft()
            if done is not None and not done.done():
                done.set_result(None)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != 'live':
            raise MediaStreamError
        if self._started is None:
            self._started = time.monotonic()
        else:  # real time: one frame per 20 ms, however fast the sender asks
            wait = self._started + self._pts / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        chunk = SILENCE
        if self._queue:
            chunk, done = self._queue.popleft()
            if done is not None and not done.done():
                done.set_result(None)
        frame = av.AudioFrame(format='s16', layout='mono', samples=FRAME_SAMPLES)
        frame.planes[0].update(SILENCE if self.muted else chunk)
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += FRAME_SAMPLES
        return frame

    def stop(self) -> None:
        self.clear()
        super().stop()


class Incoming:
    """Reads the peer's audio track for as long as it lasts and hands its sound, as 48 kHz mono PCM, to the
    listeners. It always reads, so nothing piles up while nobody listens."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self.heard = asyncio.Event()  # set at the first frame: voice is up on this side
        self._task: asyncio.Task[None] | None = None
        self._resampler = av.AudioResampler(format='s16', layout='mono', rate=RATE)

    def follow(self, track: MediaStreamTrack) -> None:
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                for converted in self._resampler.resample(frame):
                    pcm = bytes(converted.planes[0])[: converted.samples * 2]
                    self.heard.set()
                    for listener in list(self.listeners):
                        listener(pcm)

    async def record(self, seconds: float, until: 'asyncio.Future[str] | None' = None) -> bytes:
        """The next `seconds` of what the peer says, or what was heard until `until` is done (the call ended)."""
        wanted = int(seconds * RATE) * 2
        recorded = bytearray()
        full = asyncio.Event()

        def listen(pcm: bytes) -> None:
            recorded.extend(pcm[: wanted - len(recorded)])
            if len(recorded) >= wanted:
                full.set()

        self.listeners.append(listen)
        filled: asyncio.Future[Any] = asyncio.ensure_future(full.wait())
        waiting: list[asyncio.Future[Any]] = [filled, *([until] if until is not None else [])]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            filled.cancel()
            self.listeners.remove(listen)
        return bytes(recorded)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
