"""What a recording carries: its dominant frequency and level, for tests that prove voice flowed (the recording
side of the harness's browser probes, which measure `<audio id="vc-remote-audio">`)."""

import math
import wave
from array import array
from pathlib import Path

BAND_HZ = (100.0, 2000.0)
STEP_HZ = 5.0


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
