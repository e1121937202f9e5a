"""Several processes over Redis, in real browsers: `scripts/cluster.sh 2` (Redis, two app processes, HAProxy),
people served by different processes calling each other, a process killed mid-call (a 1:1 call, a group call), and
one process with Redis restarted mid-call. The calls go on: their state was in Redis, and a page that lost its
process reloads on another (or the restarted) one and resumes its call as after a reload."""

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright, expect

from voiceconnect.testing.browser import NAMES, TONES_HZ, Person, launch_person, sign_up
from voiceconnect.testing.probes import wait_for_tone
from voiceconnect.testing.servers import PROJECT_DIR, AppServer, Cluster
from voiceconnect.testing.waiting import wait_until

from .conftest import accept, call, expect_call_ended
from .test_group_calls import accept_invitation, add_from_dialog, everyone_hears_the_others, participants
from .test_persistence import call_rows, wait_for_rows


@pytest.fixture(scope='module')
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(PROJECT_DIR, tmp_path_factory.mktemp('cluster'), n=2) as running:
        yield running


@pytest.fixture
def served(
    playwright_sync: Playwright, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[str, Cluster], Person]]:
    """Factory: a signed-up person whose browser the balancer keeps on `instance` (its sticky cookie set first)."""
    made: list[Person] = []

    def make(instance: str, cluster: Cluster) -> Person:
        name = f'{NAMES[len(made) % len(NAMES)]}_{secrets.token_hex(2)}'
        person = launch_person(playwright_sync, name, TONES_HZ[len(made)], tmp_path, 'pw-' + secrets.token_hex(6))
        made.append(person)
        person.context.add_cookies([{'name': 'SRV', 'value': instance, 'url': cluster.url}])
        sign_up(person.page, cluster.url, person.name, person.password)
        person.page.goto(cluster.url + '/')
        expect(person.page.get_by_text(f'Signed in as {person.name}')).to_be_visible()
        return person

    yield make
    for person in made:
        person.close()


def rows_of(cluster: Cluster, person: Person) -> list[tuple]:
    """The call rows `person` is in: (answered, ended, reason), oldest first."""
    return [row[2:] for row in call_rows(cluster) if person.name in row[:2]]


def instance_of(page: Page) -> str:
    """Which process serves this browser (its requests carry the balancer's sticky cookie)."""
    return str(page.evaluate("fetch('/healthz').then((r) => r.json()).then((health) => health.instance)"))


def test_people_on_two_processes_see_each_other_call_talk_and_glare(cluster: Cluster, served) -> None:
    alice, bob = served('app1', cluster), served('app2', cluster)
    assert (instance_of(alice.page), instance_of(bob.page)) == ('app1', 'app2')
    expect(alice.page.get_by_role('button', name=f'Call {bob.name}')).to_be_visible()
    expect(bob.page.get_by_role('button', name=f'Call {alice.name}')).to_be_visible()

    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    bob.page.get_by_role('button', name='Hang up').click()
    for person in (alice, bob):
        expect_call_ended(person.page)
        person.page.get_by_role('button', name='Back to dashboard').click()

    alice_button = alice.page.get_by_role('button', name=f'Call {bob.name}')
    bob_button = bob.page.get_by_role('button', name=f'Call {alice.name}')
    alice_button.dispatch_event('click')  # both click at once, on two processes
    bob_button.dispatch_event('click')
    expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()
    expect(bob.page.get_by_text(f'In call with {alice.name}')).to_be_visible()
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    initiated = [line for line in cluster.log_text().splitlines() if '📞 Call initiated' in line and alice.name in line]
    assert len(initiated) == 2, initiated  # the first call, and one call for the glare
    alice.page.get_by_role('button', name='Hang up').click()
    expect_call_ended(bob.page)
    wait_until(lambda: rows_of(cluster, alice) == [(1, 1, 'completed')] * 2, lambda: str(rows_of(cluster, alice)))


def test_the_process_serving_bob_is_killed_mid_call_and_the_call_goes_on(cluster: Cluster, served) -> None:
    alice, bob = served('app1', cluster), served('app2', cluster)
    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)

    killed_at = time.monotonic()
    with bob.page.expect_navigation(timeout=15_000):  # the audio flows browser to browser until the page reloads
        cluster.kill('app2')
    cluster.wait_for_log(f'Call resumed after a reload: {bob.name}', timeout=15)
    expect(bob.page.get_by_text(f'In call with {alice.name}')).to_be_visible()
    wait_for_tone(bob.page, alice.tone_hz, timeout=15)
    wait_for_tone(alice.page, bob.tone_hz, timeout=15)
    print(f'voice back both ways {time.monotonic() - killed_at:.1f} s after kill -9')
    assert instance_of(bob.page) == 'app1'
    theirs = [line for line in cluster.log_text().splitlines() if alice.name in line or bob.name in line]
    assert not [line for line in theirs if 'User disconnected' in line or 'Call ended' in line], theirs

    alice.page.get_by_role('button', name='Hang up').click()
    expect_call_ended(bob.page)
    wait_until(lambda: rows_of(cluster, bob) == [(1, 1, 'completed')], lambda: str(rows_of(cluster, bob)))
    cluster.wait_serving('app2')  # scripts/cluster.sh started the killed process again


def test_the_process_serving_bob_is_killed_mid_group_call_and_everyone_hears_everyone_again(
    cluster: Cluster, served
) -> None:
    """Issue 20: a process dying with Redis keeps the promises of a 1:1 call, per participant. Bob, alone on app2,
    carries the caller-callee leg (with alice) and a link (with carol) in a mesh of three: both are renegotiated
    once his page reloads on app1, while alice and carol talk on over theirs; nobody leaves and the call goes on."""
    alice, bob, carol = served('app1', cluster), served('app2', cluster), served('app1', cluster)
    call(alice, bob)
    accept(alice, bob)
    add_from_dialog(alice, carol)
    accept_invitation(carol, alice, bob)
    group = [alice, bob, carol]
    everyone_hears_the_others(group)

    killed_at = time.monotonic()
    with bob.page.expect_navigation(timeout=15_000):  # the audio flows browser to browser until the page reloads
        cluster.kill('app2')
    cluster.wait_for_log(f'Call resumed after a reload: {bob.name}', timeout=15)
    everyone_hears_the_others(group, timeout=15)  # each in turn: within 15 s each, as in the 1:1 call
    print(f'voice back for all three {time.monotonic() - killed_at:.1f} s after kill -9')
    assert instance_of(bob.page) == 'app1'
    for person in group:
        expect(participants(person.page).get_by_role('listitem')).to_have_count(3)
        for other in group:
            expect(participants(person.page)).to_contain_text(other.name)
        expect(participants(person.page).get_by_text('Reconnecting…').filter(visible=True)).to_have_count(0)
        expect(person.page.get_by_text('Call ended')).to_be_hidden()
    theirs = [line for line in cluster.log_text().splitlines() if any(p.name in line for p in group)]
    # nobody left or was dropped, and every signal was on a leg or link of its sender (bob's renewed ones included)
    gone = ('User disconnected', 'Call ended', '👥 Left', 'Rejected signal')
    assert not [line for line in theirs if any(word in line for word in gone)], theirs

    alice.page.get_by_role('button', name='Hang up').click()  # the host leaves: bob and carol go on
    expect(alice.page.get_by_text('Call ended')).to_be_visible()
    expect(participants(bob.page).get_by_role('listitem')).to_have_count(2)
    bob.page.get_by_role('button', name='Hang up').click()  # one left: the call ends
    expect_call_ended(carol.page)
    wait_until(lambda: rows_of(cluster, alice) == [(1, 1, 'completed')], lambda: str(rows_of(cluster, alice)))
    cluster.wait_serving('app2')  # scripts/cluster.sh started the killed process again


@pytest.fixture
def vc_settings(redis_url: str) -> dict[str, str]:
    return {'REDIS_URL': redis_url}


def test_one_process_with_redis_restarts_mid_call_and_the_call_goes_on(vc_server: AppServer, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    mark = vc_server.log_mark()
    vc_server.restart()
    restarted_at = time.monotonic()
    for person, peer in ((alice, bob), (bob, alice)):
        expect(person.page.get_by_text('Connected', exact=True)).to_be_visible(timeout=15_000)
        expect(person.page.get_by_text(f'In call with {peer.name}')).to_be_visible()
    wait_for_tone(alice.page, bob.tone_hz, timeout=15)
    wait_for_tone(bob.page, alice.tone_hz, timeout=15)
    print(f'voice back both ways {time.monotonic() - restarted_at:.1f} s after the restarted process answered')
    after = vc_server.log_text()[mark:]
    assert 'server_restart' not in after and 'User disconnected' not in after
    alice.page.get_by_role('button', name='Hang up').click()
    expect_call_ended(bob.page)
    wait_for_rows(vc_server, [(alice.name, bob.name, 1, 1, 'completed')])
