"""Sound as files: the tone a simulated microphone plays (`write_tone_wav`), and what a recording carries, its
dominant frequency, level and tones (`tone_levels`), for tests that prove voice flowed (the recording side of
`probes`, which measure `<audio id="vc-remote-audio">` in a page)."""

import math
import sys
import wave
from array import array
from pathlib import Path

BAND_HZ = (100.0, 2000.0)
STEP_HZ = 5.0


def write_tone_wav(path: Path | str, hz: float, seconds: float = 30, rate: int = 48000, amplitude: float = 0.3) -> Path:
    """Write a 16-bit PCM mono sine tone: Chromium's fake microphone loops this file."""
    peak = int(amplitude * 32767)
    step = 2 * math.pi * hz / rate
    total = int(seconds * rate)
    # A whole-Hz tone repeats exactly every second: compute one second and repeat it (0.5 s -> 20 ms per file).
    chunk = rate if float(hz).is_integer() else total
    samples = array('h', (int(peak * math.sin(step * i)) for i in range(min(chunk, total))))
    samples = (samples * (total // max(len(samples), 1) + 1))[:total]
    if sys.byteorder == 'big':  # WAV is little-endian
        samples.byteswap()
    path = Path(path)
    with wave.open(str(path), 'wb') as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def _samples(path: Path | str) -> tuple[array, int]:  # type: ignore[type-arg]
    with wave.open(str(path), 'rb') as wav:
        assert wav.getsampwidth() == 2, 'a 16-bit PCM WAV'
        channels, rate = wav.getnchannels(), wav.getframerate()
        data = array('h', wav.readframes(wav.getnframes()))
    return data[::channels], rate


def _power(samples: array, rate: int, hz: float) -> float:  # type: ignore[type-arg]
    """Goertzel: the power of one frequency."""
    coefficient = 2 * math.cos(2 * math.pi * hz / rate)
    previous = before = 0.0
    for sample in samples:
        previous, before = sample + coefficient * previous - before, previous
    return previous * previous + before * before - coefficient * previous * before


def dominant_frequency(path: Path | str, skip_s: float = 0.5, window_s: float = 0.5) -> float:
    """The loudest frequency (5 Hz steps, 100 to 2000 Hz) of `window_s` seconds after the first `skip_s`."""
    samples, rate = _samples(path)
    start = min(int(skip_s * rate), max(0, len(samples) - int(window_s * rate)))
    window = samples[start : start + int(window_s * rate)][::2]  # 24 kHz is plenty below 2 kHz
    low, high = BAND_HZ
    candidates = [low + STEP_HZ * i for i in range(int((high - low) / STEP_HZ) + 1)]
    return max(candidates, key=lambda hz: _power(window, rate // 2, hz))


def rms_db(path: Path | str) -> float:
    """The recording's level in dB relative to full scale (-inf for digital silence)."""
    samples, _ = _samples(path)
    if not samples:
        return -math.inf
    mean_square = sum(s * s for s in samples) / len(samples)
    return 10 * math.log10(mean_square / 32768**2) if mean_square else -math.inf


def tone_power(path: Path | str, hz: float, skip_s: float = 0.0, window_s: float = 1.0) -> float:
    """The power of one tone in `window_s` seconds after the first `skip_s` (0 for silence)."""
    samples, rate = _samples(path)
    start = int(skip_s * rate)
    return _power(samples[start : start + int(window_s * rate)][::2], rate // 2, hz)


def tone_levels(path: Path | str, tones_hz: list[float], skip_s: float = 0.0, window_s: float = 1.0) -> list[float]:
    """Each tone's power relative to the loudest of them (1.0): what a mix carries of each voice."""
    powers = [tone_power(path, hz, skip_s, window_s) for hz in tones_hz]
    loudest = max(powers) or 1.0
    return [power / loudest for power in powers]
