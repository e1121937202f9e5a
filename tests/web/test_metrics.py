"""GET /metrics follows what people do, exactly: sign-ins, calls ringing, answered, declined, ended; failed
sign-ins; and it is answered to loopback (METRICS_ALLOW) only."""

import httpx
import pytest
from nicegui import app, ui
from nicegui.testing import User
from prometheus_client.parser import text_string_to_metric_families

from tests.simulated import alice_sees_bob, ring

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(user: User) -> Samples:
    response = await user.http_client.get('/metrics')
    assert response.status_code == 200
    assert response.headers['content-type'].startswith('text/plain')
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def now(samples: Samples) -> dict[str, float]:
    """The gauges and the counters a person's actions move, by short name."""
    return {
        'online': samples[('voiceconnect_online_users', ())],
        'tabs': samples[('voiceconnect_connected_tabs', ())],
        'ringing': samples[('voiceconnect_calls_ringing', ())],
        'active': samples[('voiceconnect_calls_active', ())],
        'completed': samples[('voiceconnect_calls_total', (('outcome', 'completed'),))],
        'declined': samples[('voiceconnect_calls_total', (('outcome', 'declined'),))],
        'rings': samples[('voiceconnect_ring_seconds_count', ())],
        'talks': samples[('voiceconnect_call_duration_seconds_count', ())],
        'sign_in_failures': samples[('voiceconnect_sign_in_failures_total', ())],
        'accepted_signals': samples[('voiceconnect_signaling_messages_total', (('result', 'accepted'),))],
    }


async def test_metrics_follow_a_scripted_day(user: User, create_user) -> None:
    start = now(await scrape(user))
    assert start == dict.fromkeys(start, 0.0)

    bob = await alice_sees_bob(user, create_user)
    assert now(await scrape(user)) == {**start, 'online': 2, 'tabs': 2}

    mallory = create_user()
    await mallory.open('/login')
    await mallory.should_see('Username')
    mallory.find('Username').type('alice')
    mallory.find('Password').type('wrong password')
    mallory.find(kind=ui.button, content='Sign in').click()
    await mallory.should_see('Wrong username or password.')
    assert now(await scrape(user)) == {**start, 'online': 2, 'tabs': 2, 'sign_in_failures': 1}  # a login page is no tab

    await ring(user, 'bob')
    await bob.should_see('Accept')
    after_ring = {**start, 'online': 2, 'tabs': 2, 'sign_in_failures': 1, 'ringing': 1, 'rings': 1}
    assert now(await scrape(user)) == after_ring
    bob.find('Decline').click()
    await user.should_see('bob declined')
    assert now(await scrape(user)) == {**after_ring, 'ringing': 0, 'declined': 1}

    user.find('Back to dashboard').click()
    await user.should_see('Call bob')
    await ring(user, 'bob')
    await bob.should_see('Accept')
    bob.find('Accept').click()
    await user.should_see('In call with bob', retries=20)
    in_call = {**after_ring, 'ringing': 0, 'declined': 1, 'rings': 2, 'active': 1}
    assert now(await scrape(user)) == in_call
    user.find(kind=ui.button, content='Hang up').click()
    await user.should_see('Call ended')
    assert now(await scrape(user)) == {**in_call, 'active': 0, 'completed': 1, 'talks': 1}


async def test_the_ring_is_timed_on_the_server_in_milliseconds(user: User, create_user) -> None:
    bob = await alice_sees_bob(user, create_user)
    await ring(user, 'bob')
    await bob.should_see('Accept')
    samples = await scrape(user)
    assert samples[('voiceconnect_ring_seconds_count', ())] == 1
    assert 0 < samples[('voiceconnect_ring_seconds_sum', ())] < 0.5
    assert samples[('voiceconnect_info', (('instance', '127.0.0.1:8080'), ('shared', 'false')))] == 1


async def test_metrics_are_refused_to_an_address_not_allowed(user: User) -> None:
    await user.open('/login')
    transport = httpx.ASGITransport(app, client=('203.0.113.7', 40000))
    async with httpx.AsyncClient(transport=transport, base_url='http://test') as outsider:
        response = await outsider.get('/metrics')
    assert response.status_code == 403
    assert 'voiceconnect_' not in response.text


@pytest.fixture
def metrics_for_the_office(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('VOICECONNECT_METRICS_ALLOW', '203.0.113.0/24')


async def test_metrics_allow_lets_a_configured_network_scrape(metrics_for_the_office: None, user: User) -> None:
    await user.open('/login')
    transport = httpx.ASGITransport(app, client=('203.0.113.7', 40000))
    async with httpx.AsyncClient(transport=transport, base_url='http://test') as prometheus:
        response = await prometheus.get('/metrics')
    assert response.status_code == 200
    assert 'voiceconnect_online_users 0.0' in response.text
    assert (await user.http_client.get('/metrics')).status_code == 403  # loopback is no longer in the list


async def test_group_calls_count_their_members_and_each_invitations_outcome() -> None:
    """`voiceconnect_call_members` is who is joined in live calls now; `voiceconnect_group_joins_total` counts how
    each invitation into a call went."""
    from types import SimpleNamespace
    from typing import cast

    from tests.voiceconnect.helpers import FakeRecorder, World, make_board, talk
    from voiceconnect import observe
    from voiceconnect.backend import Backend
    from voiceconnect.clock import FakeClock
    from web.metrics import Metrics

    clock, recorder = FakeClock(), FakeRecorder()
    world = World(clock, recorder, make_board(clock, recorder))
    backend = SimpleNamespace(
        settings=SimpleNamespace(instance_name='test'), shared=False, hub=world.hub, switchboard=world.board
    )
    metrics = Metrics(cast(Backend, backend))
    stop = observe.listen(metrics.observe)
    try:
        alice, bob, carol, dave = [await world.tab(name) for name in ('alice', 'bob', 'carol', 'dave')]

        def samples() -> Samples:
            return {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(metrics.text().decode())
                for s in family.samples
            }

        call_id = await talk(alice, bob)
        assert samples()[('voiceconnect_call_members', ())] == 2
        await alice.add_person(call_id, 'carol')
        await carol.accept(call_id)
        await alice.add_person(call_id, 'dave')
        await dave.decline(call_id)
        got = samples()
        assert got[('voiceconnect_call_members', ())] == 3
        assert got[('voiceconnect_group_joins_total', (('outcome', 'joined'),))] == 1
        assert got[('voiceconnect_group_joins_total', (('outcome', 'declined'),))] == 1
        assert got[('voiceconnect_group_joins_total', (('outcome', 'missed'),))] == 0
        await carol.hang_up(call_id)
        await bob.hang_up(call_id)
        assert samples()[('voiceconnect_call_members', ())] == 0
    finally:
        stop()
