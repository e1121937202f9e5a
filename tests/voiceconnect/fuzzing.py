"""Fuzzing the signaling entry point: random and malformed events from random senders against live calls.

Shared by `tests/voiceconnect/test_signal_fuzz.py` (a modest number of examples in CI) and `bench/fuzz.py`
(10,000 and more). An example is a `Scene` (three calls, each ringing, connecting, active or ended, between
people with two tabs each, plus an intruder) and a list of `Attempt`s; `Fuzzer.run` sends each attempt the way
pages/root.py and the call page's buttons do and returns the invariants it broke (none, if all is well):

- nothing but a rejection (`CallError`; malformed input is a `SignalRejected` caused by pydantic's error) escapes
  the entry point;
- a rejected event changes no call, records nothing and reaches nobody; its reason is one short line that
  quotes nothing the sender chose (it goes into the log and back to the browser);
- an event that raised nothing came from a device the server's rules allow (checked against an independent
  model of those rules, on the state before the event), changed no other call, and reached only the call's
  people; one the rules forbid that raised nothing (dropped quietly, e.g. by a rate limit) changed nothing;
- no message to a browser carries a device id (NiceGUI client id) or a session token.

Ids in generated payloads are symbolic (`CallRef`, `LegRef`) and resolved against the scene when sent, so the
same strategies hit real ids of live, answered-elsewhere and ended calls as well as made-up ones.
"""

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from voiceconnect.calls.machine import Call, CallError, CallState
from voiceconnect.calls.signals import KINDS, MAX_CANDIDATE, MAX_SDP
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import CallChanged, PresenceChanged

from .helpers import CANDIDATE, SDP, FakeRecorder, FakeTab, World, make_board, settle

PAIRS = (('alice', 'bob'), ('carol', 'dave'), ('erin', 'frank'))
STATES = ('ringing', 'connecting', 'active', 'ended')
ACTIONS = ('signal', 'accept', 'decline', 'hang_up', 'mute', 'unmute')
TABS_PER_PERSON = 2
MAX_REASON = 200


# --- symbolic ids, resolved against the scene when an attempt is sent ---------------------------------------


@dataclass(frozen=True)
class CallRef:
    pair: int  # which of the scene's calls


@dataclass(frozen=True)
class LegRef:
    pair: int
    leg: int  # which of that call's legs (the answered one, the losing one, ...)


@dataclass(frozen=True)
class Attempt:
    sender: int  # index into the scene's devices (wraps around)
    action: str
    payload: Any  # the signal's data (action 'signal'), or the call id the button acts on


# --- the scene ----------------------------------------------------------------------------------------------


@dataclass
class Scene:
    """Three calls between people with two tabs each (the first tab carries the call), an intruder, and a closed
    tab of the intruder's. Every call id and leg ever made stays resolvable, ended calls included."""

    world: World
    call_ids: list[str]
    devices: list[Device]
    closed: Device

    @classmethod
    def build(cls, states: tuple[str, ...]) -> 'Scene':
        clock, recorder = FakeClock(), FakeRecorder()
        world = World(clock, recorder, make_board(clock, recorder))
        devices: list[Device] = []
        call_ids = []
        for (caller, callee), state in zip(PAIRS, states, strict=True):
            callers = [settle(world.tab(caller)) for _ in range(TABS_PER_PERSON)]
            callees = [settle(world.tab(callee)) for _ in range(TABS_PER_PERSON)]
            call_ids.append(settle(_bring_to(state, callers[0], callees[0])))
            devices += callers + callees
        devices.append(settle(world.tab('mallory')))
        closed = settle(world.tab('mallory'))
        settle(closed.detach())
        devices.append(closed)
        for device in devices:
            _tab(device).clear()
        return cls(world, call_ids, devices, closed)

    def call(self, pair: int) -> Call:
        return self.world.call(self.call_ids[pair % len(self.call_ids)])

    def resolve(self, value: Any) -> Any:
        """The payload with its symbolic ids replaced by the scene's real ones."""
        if isinstance(value, CallRef):
            return self.call(value.pair).id
        if isinstance(value, LegRef):
            legs = list(self.call(value.pair).legs)  # in the order of the callee's tabs
            return legs[value.leg % len(legs)] if legs else 'lGone'
        if isinstance(value, dict):
            return {self.resolve(k): self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def secrets(self) -> set[str]:
        """What must never reach a browser: device ids (NiceGUI client ids in the app) and session tokens."""
        return {d.id for d in self.devices} | {s.token for s in self.world.board.services.values()}


async def _bring_to(state: str, caller: Device, callee: Device) -> str:
    call_id = (await caller.call_user(callee.user)).id
    if state == 'ringing':
        return call_id
    await callee.accept(call_id)
    if state in ('active', 'ended'):
        for device in (caller, callee):
            await device.signal({'kind': 'media_up', 'call_id': call_id})
    if state == 'ended':
        await caller.hang_up(call_id)
    return call_id


def _tab(device: Device) -> FakeTab:
    assert isinstance(device.tab, FakeTab)
    return device.tab


# --- sending, as the app does -------------------------------------------------------------------------------

SENDERS: dict[str, Callable[[Device, Any], Awaitable[object]]] = {
    'signal': lambda device, data: device.signal(data),  # pages/root.py `_on_signal`
    'accept': lambda device, call_id: device.accept(call_id),  # the incoming-call dialog's buttons
    'decline': lambda device, call_id: device.decline(call_id),
    'hang_up': lambda device, call_id: device.hang_up(call_id),  # the call page and the ongoing-call bar
    'mute': lambda device, call_id: device.set_muted(call_id, True),
    'unmute': lambda device, call_id: device.set_muted(call_id, False),
}


def rejection_reason(error: CallError) -> str:
    """What pages/root.py shows the sender and the core logs."""
    return str(error)


def rejection_class(error: CallError) -> str:
    if isinstance(error.__cause__, ValidationError):
        return f'invalid: {error.__cause__.errors()[0]["type"]}'
    return f'refused: {error}'


def snapshot(call: Call) -> tuple:
    return (
        call.state,
        call.caller_device,
        tuple(sorted(call.legs.items())),
        call.answered_leg,
        call.answered_at,
        call.ended_at,
        call.end_reason,
        call.ended_by,
        call.failure,
        frozenset(call.muted),
        frozenset(call.away),
        frozenset(call.media_up),
    )


def allowed(world: World, call: Call | None, device: Device, action: str, signal_kind: object) -> bool:
    """The server's rules, written down independently of calls/machine.py: may `device` do `action` on `call` now?"""
    if call is None or not call.live or not call.has_user(device.user) or not world.board.holds(device):
        return False
    party = device.id in call.party_devices()
    ringing = call.state == CallState.RINGING
    is_callee = device.user == call.callee
    if action in ('accept', 'decline'):
        return is_callee and ringing and call.leg_of(device.id) is not None
    if action == 'hang_up':
        return party and not (is_callee and ringing)
    if action == 'signal' and signal_kind == 'media_up':
        return party and call.state in (CallState.CONNECTING, CallState.ACTIVE)
    return party


@dataclass
class Tally:
    """What a fuzz run did: attempts tried, accepted, rejected by reason class, and invariant breaks."""

    tried: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    breaks: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f'tried:    {self.tried}',
            f'accepted: {self.accepted}',
            f'rejected: {sum(self.rejected.values())}',
        ]
        lines += [f'  {count:>7}  {reason}' for reason, count in self.rejected.most_common()]
        lines.append(f'invariant breaks: {len(self.breaks)}')
        return lines


class Fuzzer:
    """Sends attempts into a scene and checks the invariants after each one."""

    def __init__(self, scene: Scene, tally: Tally | None = None) -> None:
        self.scene = scene
        self.tally = tally or Tally()

    def run(self, attempts: list[Attempt]) -> list[str]:
        breaks: list[str] = []
        for attempt in attempts:
            breaks += self.send(attempt)
        self.tally.breaks += breaks
        return breaks

    def send(self, attempt: Attempt) -> list[str]:
        scene = self.scene
        device = scene.devices[attempt.sender % len(scene.devices)]
        payload = scene.resolve(attempt.payload)
        target = self._target_call(attempt.action, payload)
        was_allowed = allowed(scene.world, target, device, attempt.action, _kind(payload))
        parties = _people_and_party_devices(target)
        before = self._state()
        self.tally.tried += 1
        label = f'{device.user}/{device.id} {attempt.action} {_short(payload)}'
        try:
            settle(SENDERS[attempt.action](device, payload))
        except CallError as error:
            self.tally.rejected[rejection_class(error)] += 1
            return [f'{label}: {problem}' for problem in self._check_rejected(before, error)]
        except Exception as error:  # the entry point must never raise anything else
            self.tally.rejected['ESCAPED'] += 1
            return [f'{label}: {type(error).__name__} escaped: {error}']
        if not was_allowed:  # dropped without a word (a rate limit may do that): then it must have done nothing
            self.tally.rejected['dropped without an error'] += 1
            return [f'{label}: {problem}' for problem in self._check_unchanged(before)]
        self.tally.accepted += 1
        return [f'{label}: {problem}' for problem in self._check_accepted(before, target, parties)]

    def _target_call(self, action: str, payload: Any) -> Call | None:
        call_id = payload.get('call_id') if action == 'signal' and isinstance(payload, dict) else payload
        if not isinstance(call_id, str):
            return None
        return self.scene.world.calls.get(call_id)

    def _state(self) -> tuple[dict[str, tuple], list[tuple[int, int]], tuple[int, int]]:
        calls = {call.id: snapshot(call) for call in self.scene.world.recorder.created}
        heard = [(len(_tab(d).events), len(_tab(d).relayed)) for d in self.scene.devices]
        recorder = self.scene.world.recorder
        return calls, heard, (len(recorder.created), len(recorder.finished))

    def _check_unchanged(self, before: tuple) -> list[str]:
        problems = []
        calls, heard, records = self._state()
        if calls != before[0]:
            problems.append('a rejected event changed a call')
        if heard != before[1]:
            problems.append('a rejected event reached a browser')
        if records != before[2]:
            problems.append('a rejected event was recorded')
        return problems

    def _check_rejected(self, before: tuple, error: CallError) -> list[str]:
        problems = self._check_unchanged(before)
        reason = rejection_reason(error)
        if not reason or len(reason) > MAX_REASON or not reason.isprintable():
            problems.append(f'unsafe rejection reason {reason[:80]!r}')
        return problems

    def _check_accepted(self, before: tuple, target: Call | None, parties: tuple[set[str], set[str]]) -> list[str]:
        problems = []
        calls = self._state()[0]
        target_id = target.id if target is not None else None
        if any(snapshot != calls[call_id] for call_id, snapshot in before[0].items() if call_id != target_id):
            problems.append('an accepted event changed another call')
        people, party_devices = parties
        secrets = self.scene.secrets()
        for device, (events, relays) in zip(self.scene.devices, before[1], strict=True):
            news, relayed = _tab(device).events[events:], _tab(device).relayed[relays:]
            problems += _misdelivered(device, news, relayed, target_id, people, party_devices)
            problems += _leaks(news, relayed, secrets)
        return problems


def _people_and_party_devices(call: Call | None) -> tuple[set[str], set[str]]:
    if call is None:
        return set(), set()
    return {call.caller, call.callee}, set(call.party_devices())


def _misdelivered(
    device: Device, news: list, relayed: list[dict], target: str | None, people: set[str], party_devices: set[str]
) -> list[str]:
    problems = []
    if relayed and device.id not in party_devices:
        problems.append(f'signaling relayed to {device.id}, not a party device')
    for event in news:
        if isinstance(event, CallChanged) and (event.call.id != target or device.user not in people):
            problems.append(f'{device.user} told about call {event.call.id}')
        elif not isinstance(event, CallChanged | PresenceChanged):
            problems.append(f'{device.user} got {type(event).__name__}')
    return problems


def _leaks(news: list, relayed: list[dict], secrets: set[str]) -> list[str]:
    text = repr(news) + json.dumps(relayed, default=repr)
    return [f'a browser was sent the secret {secret!r}' for secret in secrets if secret in text]


def _kind(payload: Any) -> object:
    return payload.get('kind') if isinstance(payload, dict) else None


def _short(payload: Any) -> str:
    text = repr(payload)
    return text if len(text) < 160 else f'{text[:150]}… ({len(text)} chars)'


# --- strategies ---------------------------------------------------------------------------------------------


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, in proportion to its weight (st.one_of picks evenly)."""
    total = sum(weight for weight, _ in choices)

    def pick(ticket: int) -> st.SearchStrategy[Any]:
        for weight, strategy in choices:
            if ticket < weight:
                return strategy
            ticket -= weight
        raise AssertionError(ticket)

    return st.integers(min_value=0, max_value=total - 1).flatmap(pick)


ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
# What json.loads can hand the handler (NiceGUI parses each event argument with it; NaN and Infinity included).
json_junk = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
pair = st.integers(min_value=0, max_value=len(PAIRS) - 1)
made_up_id = st.text(alphabet=ID_ALPHABET, min_size=1, max_size=40)


def call_id_for(focus: int) -> st.SearchStrategy[Any]:
    """Mostly the focused call's real id; sometimes another call's, a made-up, malformed or junk one."""
    odd = st.sampled_from(['', 'c' * 41, 'c/../x', 'c\nforged'])
    return weighted(
        (6, st.just(CallRef(focus))), (1, st.builds(CallRef, pair)), (1, made_up_id), (1, odd), (1, json_junk)
    )


def leg_for(focus: int) -> st.SearchStrategy[Any]:
    legs = st.builds(LegRef, st.just(focus), st.integers(min_value=0, max_value=TABS_PER_PERSON))
    odd = st.sampled_from(['', 'l' * 41, '<script>'])
    return weighted(
        (6, legs), (1, st.builds(LegRef, pair, st.integers(0, 2))), (1, made_up_id), (1, odd), (1, json_junk)
    )


sdp = weighted(
    (4, st.just(SDP)),
    (1, st.just('x' * MAX_SDP)),
    (1, st.just('x' * (MAX_SDP + 1))),
    (1, st.text(max_size=30)),
    (1, json_junk),
)
candidate_text = st.one_of(
    st.just(CANDIDATE), st.just('c' * MAX_CANDIDATE), st.just('c' * (MAX_CANDIDATE + 1)), st.text(max_size=30)
)
FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    'offer': {'sdp': sdp},
    'answer': {'sdp': sdp},
    'candidate': {
        'candidate': candidate_text,
        'sdp_mid': st.one_of(st.none(), st.just('0'), st.text(max_size=70)),
        'sdp_mline_index': st.one_of(st.none(), st.integers(min_value=-2, max_value=70), json_leaf),
    },
    'media_up': {},
    'media_failed': {
        'reason': st.one_of(st.sampled_from(['mic_refused', 'mic_missing', 'mic_unavailable']), st.text(max_size=210))
    },
}
# What an impersonator adds: someone else's name, a device or session of theirs, or just junk.
EXTRA_KEYS = ['user', 'from', 'sender', 'device', 'device_id', 'client_id', 'session', 'token', 'role']
impersonation = st.sampled_from(['alice', 'bob', 'mallory', 'alice-tab0', 'token-alice-alice-browser', ''])


@st.composite
def shaped_signal(draw: st.DrawFn, focus: int) -> dict[str, Any]:
    """A signal of a known kind with plausible fields, then maybe broken: a field dropped, swapped for junk, or
    an extra field added (impersonation)."""
    kind = draw(st.sampled_from(KINDS))
    data: dict[str, Any] = {'kind': kind, 'call_id': draw(call_id_for(focus))}
    if kind in ('offer', 'answer', 'candidate'):
        data['leg'] = draw(leg_for(focus))
    data |= {key: draw(value) for key, value in FIELDS[kind].items()}
    mutations = st.lists(st.sampled_from(['drop', 'junk', 'extra']), max_size=2)
    for mutation in draw(st.one_of(st.just([]), mutations)):
        key = draw(st.sampled_from(sorted(data)))
        if mutation == 'drop':
            data.pop(key)
        elif mutation == 'junk':
            data[key] = draw(json_junk)
        else:
            data[draw(st.sampled_from(EXTRA_KEYS) | st.text(max_size=10))] = draw(impersonation | json_junk)
    return data


odd_kind = st.one_of(
    st.text(max_size=30), st.just('x\n✅ Call answered: mallory → alice'), st.just('k' * 5000), json_junk
)


def signal_payload(focus: int) -> st.SearchStrategy[Any]:
    shaped = shaped_signal(focus)
    return weighted(
        (8, shaped), (1, st.fixed_dictionaries({'kind': odd_kind, 'call_id': call_id_for(focus)})), (1, json_junk)
    )


@st.composite
def attempts(draw: st.DrawFn) -> Attempt:
    """One event about a focused call, mostly from one of its people's tabs (a scene has four per call, in the
    order caller, caller's other tab, callee's answering tab, callee's other tab), else from anyone."""
    focus = draw(pair)
    people = st.integers(min_value=0, max_value=2 * TABS_PER_PERSON - 1).map(lambda i: focus * 2 * TABS_PER_PERSON + i)
    sender = draw(weighted((3, people), (1, st.integers(min_value=0, max_value=64))))
    action = draw(st.sampled_from(ACTIONS[:1] * 5 + ACTIONS[1:]))  # signals most, buttons too
    call_id = weighted(
        (6, st.just(CallRef(focus))), (1, st.builds(CallRef, pair)), (1, made_up_id), (1, st.just('cNoSuchCall'))
    )
    payload = draw(signal_payload(focus) if action == 'signal' else call_id)
    return Attempt(sender, action, payload)


scene_states = st.tuples(*[st.sampled_from(STATES)] * len(PAIRS))
attempt_lists = st.lists(attempts(), min_size=1, max_size=8)
