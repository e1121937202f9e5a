"""What a browser may send is validated before the call manager sees it; anything else is rejected."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from voiceconnect.calls.signals import (
    MAX_CANDIDATE,
    MAX_SDP,
    Answer,
    Candidate,
    MediaFailed,
    MediaUp,
    Offer,
    parse_signal,
)
from voiceconnect.connections.device import Device, SignalRejected

from .helpers import leg_of, ring, tab_of

GOOD = {
    'offer': {'kind': 'offer', 'call_id': 'cABC', 'leg': 'lXYZ', 'sdp': 'v=0'},
    'answer': {'kind': 'answer', 'call_id': 'cABC', 'leg': 'lXYZ', 'sdp': 'v=0'},
    'candidate': {'kind': 'candidate', 'call_id': 'cABC', 'leg': 'lXYZ', 'candidate': 'candidate:1'},
    'media_up': {'kind': 'media_up', 'call_id': 'cABC'},
    'media_failed': {'kind': 'media_failed', 'call_id': 'cABC', 'reason': 'mic_refused'},
}
TYPES = {'offer': Offer, 'answer': Answer, 'candidate': Candidate, 'media_up': MediaUp, 'media_failed': MediaFailed}
REQUIRED = [(kind, key) for kind, data in GOOD.items() for key in data if key != 'kind']

BAD = {
    'unknown kind': {'kind': 'hangup', 'call_id': 'cABC'},
    'no kind': {'call_id': 'cABC', 'sdp': 'v=0'},
    'kind not a string': {'kind': 1, 'call_id': 'cABC'},
    'extra field on offer': {**GOOD['offer'], 'device': 'alice-tab0'},
    'extra field on media_up': {**GOOD['media_up'], 'user': 'alice'},
    'sdp over 16 KiB': {**GOOD['offer'], 'sdp': 'a' * (MAX_SDP + 1)},
    'answer sdp over 16 KiB': {**GOOD['answer'], 'sdp': 'a' * (MAX_SDP + 1)},
    'candidate over 1 KiB': {**GOOD['candidate'], 'candidate': 'a' * (MAX_CANDIDATE + 1)},
    'sdp not a string': {**GOOD['offer'], 'sdp': {'type': 'offer'}},
    'sdp_mline_index negative': {**GOOD['candidate'], 'sdp_mline_index': -1},
    'sdp_mline_index huge': {**GOOD['candidate'], 'sdp_mline_index': 10_000},
    'sdp_mid too long': {**GOOD['candidate'], 'sdp_mid': 'm' * 65},
    'failure reason in free text': {**GOOD['media_failed'], 'reason': 'Please call +1 555 0100 to restore'},
    'failure reason with a newline': {**GOOD['media_failed'], 'reason': 'mic_refused\n✅ Call answered: x → y'},
    'call id with a slash': {**GOOD['media_up'], 'call_id': 'c/../x'},
    'call id with a space': {**GOOD['media_up'], 'call_id': 'c 1'},
    'call id with markup': {**GOOD['media_up'], 'call_id': '<script>'},
    'call id with a dot': {**GOOD['media_up'], 'call_id': 'c.1'},
    'empty call id': {**GOOD['media_up'], 'call_id': ''},
    'call id too long': {**GOOD['media_up'], 'call_id': 'c' * 41},
    'leg with bad characters': {**GOOD['offer'], 'leg': 'l;drop'},
    'not an object': 'offer',
    'a list': [GOOD['offer']],
    'nothing': None,
}


@pytest.mark.parametrize('kind', GOOD)
def test_valid_signals_parse_to_their_model(kind: str) -> None:
    assert type(parse_signal(GOOD[kind])) is TYPES[kind]


def test_limits_are_inclusive() -> None:
    assert parse_signal({**GOOD['offer'], 'sdp': 'a' * MAX_SDP})
    assert parse_signal({**GOOD['candidate'], 'candidate': 'a' * MAX_CANDIDATE})
    assert parse_signal({**GOOD['media_up'], 'call_id': 'c' * 40})


def test_candidate_optional_fields_default_to_none() -> None:
    signal = parse_signal(GOOD['candidate'])
    assert isinstance(signal, Candidate)
    assert (signal.sdp_mid, signal.sdp_mline_index) == (None, None)


@pytest.mark.parametrize('data', BAD.values(), ids=BAD.keys())
def test_malformed_signals_are_rejected(data: object) -> None:
    with pytest.raises(ValidationError):
        parse_signal(data)


@pytest.mark.parametrize(('kind', 'missing'), REQUIRED)
def test_signals_missing_a_field_are_rejected(kind: str, missing: str) -> None:
    data = {key: value for key, value in GOOD[kind].items() if key != missing}
    with pytest.raises(ValidationError):
        parse_signal(data)


@pytest.mark.parametrize('data', BAD.values(), ids=BAD.keys())
async def test_a_tab_sending_a_malformed_signal_is_rejected_and_nothing_is_relayed(
    alice: Device, bob: Device, data: object
) -> None:
    call_id = await ring(alice, bob)
    if isinstance(data, dict) and data.get('call_id') == 'cABC':
        data = {**data, 'call_id': call_id, **({'leg': leg_of(bob, call_id)} if data.get('leg') == 'lXYZ' else {})}
    with pytest.raises(SignalRejected):
        await bob.signal(data)
    assert tab_of(alice).relayed == []


async def test_validation_errors_are_value_errors_for_callers_that_catch_those(bob: Device) -> None:
    with pytest.raises(ValueError):
        await bob.signal({'kind': 'nope'})


def test_signals_are_immutable() -> None:
    signal = parse_signal(GOOD['media_up'])
    with pytest.raises(ValidationError):
        signal.call_id = 'cOther'  # type: ignore[misc]


def unsafe(text: str) -> bool:
    return any(not (c.isascii() and (c.isalnum() or c in '_-')) for c in text)


@given(st.text(min_size=1, max_size=40).filter(unsafe))
def test_any_call_id_outside_the_safe_alphabet_is_rejected(call_id: str) -> None:
    with pytest.raises(ValidationError):
        parse_signal({'kind': 'media_up', 'call_id': call_id})


@given(st.from_regex(r'[A-Za-z0-9_-]{1,40}', fullmatch=True))
def test_any_call_id_in_the_safe_alphabet_is_accepted(call_id: str) -> None:
    assert parse_signal({'kind': 'media_up', 'call_id': call_id}).call_id == call_id
