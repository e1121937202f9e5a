"""Generate the ringtone and ringback WAVs in assets/ (16-bit PCM, 8 kHz): committed, but reproducible."""

import math
import struct
import wave
from pathlib import Path

RATE = 8000
ASSETS = Path(__file__).resolve().parents[1] / 'assets'


def tone(freqs: tuple[float, ...], seconds: float, volume: float = 0.25) -> list[float]:
    n = int(RATE * seconds)
    fade = int(RATE * 0.01)  # 10 ms ramps: no clicks
    samples = []
    for i in range(n):
        envelope = min(1.0, i / fade, (n - i) / fade)
        samples.append(volume * envelope * sum(math.sin(2 * math.pi * f * i / RATE) for f in freqs) / len(freqs))
    return samples


def silence(seconds: float) -> list[float]:
    return [0.0] * int(RATE * seconds)


def write(name: str, samples: list[float]) -> None:
    with wave.open(str(ASSETS / name), 'wb') as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b''.join(struct.pack('<h', int(s * 32767)) for s in samples))


if __name__ == '__main__':
    ring = (480.0, 620.0)
    write('ringtone.wav', tone(ring, 0.4) + silence(0.2) + tone(ring, 0.4) + silence(1.5))
    write('ringback.wav', tone((440.0, 480.0), 1.5) + silence(3.0))  # the familiar "it is ringing" cadence
