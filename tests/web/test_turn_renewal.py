"""TURN credentials go only to a tab about to use them: the one that placed a call, rings with its own leg, or
was answered on; never with an ended call, a call to someone offline, busy or not taking calls, or a call carried
by another tab. A tab carrying a call gets fresh ones before its old ones run out (a call longer than TURN_TTL_S
keeps its relay), and stops getting them once the call is over."""

import asyncio
import json
import re
from typing import Any

from voiceconnect.calls.machine import CallState, EndReason
from voiceconnect.calls.views import CallView
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import CallChanged
from voiceconnect.turn import IcePolicy
from web.tabs import BrowserTab

from ..voiceconnect.helpers import FakeRecorder, make_board

TURN = IcePolicy([], 'all', ('turn:127.0.0.1:3478',), 'secret', turn_ttl_s=3600)


class FakeClient:
    is_deleted = False

    def __init__(self) -> None:
        self.scripts: list[str] = []

    def run_javascript(self, code: str) -> None:
        self.scripts.append(code)


def view(state: CallState, here: bool = True) -> CallView:
    ended = state == CallState.ENDED
    return CallView(
        id='c1', role='caller', peer='bob', state=state, here=here, leg=None, answered_at=1.0,
        ended_at=2.0 if ended else None, end_reason=EndReason.COMPLETED if ended else None, ended_by_me=False,
        answered_elsewhere=False, me_muted=False, peer_muted=False,
    )  # fmt: skip


def renewals(client: FakeClient) -> list[dict[str, Any]]:
    found = [re.fullmatch(r'vc\.renewIce\((.*)\)', script) for script in client.scripts]
    return [json.loads(match.group(1)) for match in found if match]


async def test_credentials_are_renewed_during_a_call_and_no_longer_after_it() -> None:
    client = FakeClient()
    tab = BrowserTab(client, IcePolicy([], 'relay', ('turn:127.0.0.1:3478',), 'secret', turn_ttl_s=1), 'alice')  # type: ignore[arg-type]
    tab.deliver(CallChanged(view(CallState.ACTIVE)))
    (first,) = [json.loads(s[len('vc.sync(') : -1])['ice'] for s in client.scripts if s.startswith('vc.sync(')]
    assert first['iceServers'][0]['username'].endswith(':alice')
    await asyncio.sleep(1.0)  # 0.8 of the TTL: the first renewal
    (renewed,) = renewals(client)
    assert renewed['iceTransportPolicy'] == 'relay'
    assert renewed['iceServers'][0]['username'].endswith(':alice')
    tab.deliver(CallChanged(view(CallState.ENDED)))
    await asyncio.sleep(1.0)
    assert len(renewals(client)) == 1  # the call is over: nothing more


async def test_a_tab_that_does_not_carry_the_call_gets_no_renewals() -> None:
    client = FakeClient()
    tab = BrowserTab(client, IcePolicy([], 'all', ('turn:127.0.0.1:3478',), 'secret', turn_ttl_s=1), 'alice')  # type: ignore[arg-type]
    tab.deliver(CallChanged(view(CallState.ACTIVE, here=False)))
    await asyncio.sleep(1.0)
    assert renewals(client) == []


def synced(client: FakeClient) -> list[dict[str, Any]]:
    """Every call view the browser module was given, as it got it."""
    return [json.loads(script[len('vc.sync(') : -1]) for script in client.scripts if script.startswith('vc.sync(')]


def with_credentials(client: FakeClient) -> list[tuple[str, bool]]:
    """(state, here) of each view that carried TURN credentials."""
    return [(str(view['state']), bool(view['here'])) for view in synced(client) if 'ice' in view]


class People:
    """A switchboard whose tabs are BrowserTabs over fake clients (what each document's browser module got)."""

    def __init__(self) -> None:
        self.board = make_board(FakeClock(), FakeRecorder())
        self.clients: dict[str, FakeClient] = {}

    async def tab(self, user: str, name: str) -> Device:
        service = await self.board.service_for(f'{user}-browser', user, f'token-{user}')
        self.clients[name] = FakeClient()
        return await self.board.attach(service, name, BrowserTab(self.clients[name], TURN, user))  # type: ignore[arg-type]


async def test_a_call_to_someone_offline_busy_or_not_taking_calls_issues_no_credentials() -> None:
    people = People()
    alice = await people.tab('alice', 'alice1')
    bob = await people.tab('bob', 'bob1')
    await people.tab('carol', 'carol1')
    await people.tab('dave', 'dave1')
    await people.board.hub.set_do_not_disturb('dave', True)  # what his switch does to the calls he is offered
    for name in ('erin', 'dave'):  # erin is offline
        assert (await alice.call_user(name)).state == CallState.ENDED
    busy = await bob.call_user('carol')
    assert (await alice.call_user('bob')).state == CallState.ENDED  # bob is busy ringing carol
    await bob.hang_up(busy.id)
    assert synced(people.clients['alice1']), 'alice heard of her calls'
    assert with_credentials(people.clients['alice1']) == []
    assert with_credentials(people.clients['dave1']) == []


async def test_only_the_tabs_that_carry_a_call_get_credentials_and_only_while_it_lasts() -> None:
    people = People()
    alice = await people.tab('alice', 'alice1')
    await people.tab('alice', 'alice2')  # her other tab: not the one that dialled
    bob = await people.tab('bob', 'bob1')
    await people.tab('bob', 'bob2')  # rings too, then is answered elsewhere
    call = await alice.call_user('bob')
    await bob.accept(call.id)
    await alice.hang_up(call.id)
    ringing, connecting = ('ringing', True), ('connecting', True)
    assert with_credentials(people.clients['alice1']) == [ringing, connecting]
    assert with_credentials(people.clients['bob1']) == [ringing, connecting]
    assert with_credentials(people.clients['bob2']) == [ringing]  # pre-negotiates while it rings, then not
    assert with_credentials(people.clients['alice2']) == []
    for client in people.clients.values():
        last = synced(client)[-1]
        assert last['state'] == 'ended' and 'ice' not in last
