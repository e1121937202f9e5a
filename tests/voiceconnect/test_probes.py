"""The harness's waits on what a page hears (voiceconnect.testing.probes) trust two steady readings in a row, and
say what they last read when they give up; here fed scripted readings instead of a page's analyser."""

import re
from collections.abc import Iterator
from typing import Any

import pytest

from voiceconnect.testing import probes
from voiceconnect.testing.probes import Peak

PAGE: Any = None  # the readings below stand in for the page's


def scripted(monkeypatch: pytest.MonkeyPatch, name: str, readings: list[Any]) -> list[Any]:
    """`probes.<name>` gives these readings in turn, then the last one again; returns the readings taken."""
    taken: list[Any] = []
    script: Iterator[Any] = iter(readings)

    def read(*_: object) -> Any:
        taken.append(next(script, readings[-1]))
        return taken[-1]

    monkeypatch.setattr(probes, name, read)
    return taken


def test_a_voice_counts_once_it_is_heard_twice_in_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = scripted(monkeypatch, 'voices', [[440.0], [], [440.0], [880.0], [440.0], [440.0]])
    assert probes.wait_for_voices(PAGE, [440]) == [440.0]
    assert len(taken) == 6  # each glitch started the count again


def test_hearing_nobody_counts_too(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, 'voices', [[440.0], [], []])
    assert probes.wait_for_voices(PAGE, []) == []


@pytest.mark.parametrize(
    ('name', 'readings', 'wait', 'says'),
    [
        ('voices', [[330.0]], lambda: probes.wait_for_voices(PAGE, [440, 660], timeout=0.3), 'heard [330.0]'),
        ('mix_levels', [None], lambda: probes.wait_for_mix(PAGE, [440], [660], timeout=0.3), 'one mixed stream'),
        ('mix_levels', [[-30.0, -40.0]], lambda: probes.wait_for_mix(PAGE, [440], [660], timeout=0.3), '660 Hz -40 dB'),
        ('_measure', ['remote track ended'], lambda: probes.wait_for_tone(PAGE, 440, timeout=0.3), 'track ended'),
        ('_measure', [Peak(660, -20)], lambda: probes.wait_for_tone(PAGE, 440, timeout=0.3), '660.0 Hz at -20.0 dB'),
    ],
    ids=['voices', 'no mix', 'not a mix', 'no reading', 'another tone'],
)
def test_a_wait_that_gives_up_says_what_it_last_read(
    monkeypatch: pytest.MonkeyPatch, name: str, readings: list[Any], wait: Any, says: str
) -> None:
    scripted(monkeypatch, name, readings)
    with pytest.raises(AssertionError, match=re.escape(says)):
        wait()


def test_a_tone_heard_once_between_others_is_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = scripted(monkeypatch, '_measure', [Peak(440, -20), Peak(660, -20), Peak(440, -20), Peak(440, -20)])
    assert probes.wait_for_tone(PAGE, 440) == Peak(440, -20)
    assert len(taken) == 4
