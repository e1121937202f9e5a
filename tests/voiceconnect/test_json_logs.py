"""LOG_FORMAT=json: the same events as the text lines, one JSON object each, with their fields (user, peer,
call id, outcome, duration, instance)."""

import json
import logging

import pytest

from voiceconnect.connections.device import Device
from voiceconnect.logs import JsonLines

from .helpers import World, ring, talk


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonLines('vc-1')
    return [json.loads(formatter.format(record)) for record in caplog.records if record.name == 'voiceconnect']


async def test_a_call_in_json_lines_has_its_fields(
    world: World, alice: Device, bob: Device, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, 'voiceconnect')
    call_id = await talk(alice, bob)
    await world.clock.advance(45)
    await alice.hang_up(call_id)
    lines = json_lines(caplog)
    call_lines = [line for line in lines if line.get('call_id') == call_id]
    assert [line['message'] for line in call_lines] == [
        '📞 Call initiated: alice → bob',
        '✅ Call answered: alice → bob',
        '📴 Call ended: 45s (alice → bob, completed)',
    ]
    ended = call_lines[-1]
    assert {key: ended[key] for key in ('user', 'peer', 'outcome', 'duration_s', 'instance', 'level')} == {
        'user': 'alice',
        'peer': 'bob',
        'outcome': 'completed',
        'duration_s': 45,
        'instance': 'vc-1',
        'level': 'INFO',
    }
    assert str(ended['time']).endswith('+00:00')


async def test_outcomes_and_presence_carry_their_fields(
    world: World, alice: Device, bob: Device, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, 'voiceconnect')
    call_id = await ring(alice, bob)
    await bob.decline(call_id)
    await world.tab('carol')
    lines = json_lines(caplog)
    declined = next(line for line in lines if line['message'] == '🙅 Call declined: alice → bob')
    assert (declined['call_id'], declined['outcome'], declined['user'], declined['peer']) == (
        call_id,
        'declined',
        'alice',
        'bob',
    )
    joined = next(line for line in lines if line['message'] == '📞 User joined: carol')
    assert joined['user'] == 'carol'
    assert 'call_id' not in joined
