"""A tab carrying a call gets fresh TURN credentials before its old ones run out (a call longer than TURN_TTL_S
keeps its relay), and stops getting them once the call is over."""

import asyncio
import json
import re

from voiceconnect.calls import CallState, EndReason
from voiceconnect.events import CallChanged, CallView
from voiceconnect.turn import IcePolicy
from web.tabs import BrowserTab


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


def renewals(client: FakeClient) -> list[dict[str, object]]:
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
