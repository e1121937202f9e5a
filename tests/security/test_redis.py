"""Nobody with curl can take the app down through its Redis (issue 18, items 1, 11 and 12), proven against real
app processes on a real redis-server:

- anonymous requests cost no Redis connection: the connections a process holds are a fixed pool;
- a hung Redis (SIGSTOP) is noticed within seconds: `/healthz` says 503, every tab is told (`Reconnecting…`),
  requests get an answer, and all of it comes back after SIGCONT;
- the deadline sweep gets past stale and undecodable entries, and a process whose clock is off ends nobody's
  call early (deadlines and leases come from Redis's clock);
- a second process under the name of a live one refuses to start; one restarted after its predecessor died
  starts.

Every load here is bounded in count and time."""

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from voiceconnect.testing.servers import PROJECT_DIR, AppServer, RedisServer
from voiceconnect.testing.waiting import wait_until

from .redis_helpers import Program, app_on, orphan_call, own_redis, tracebacks

__all__ = ['own_redis']  # a fixture

ANONYMOUS_REQUESTS = {'/healthz': 500, '/login': 300, '/': 200}  # 1,000 requests, none with a cookie
AT_ONCE = 25


@pytest.fixture
def programs() -> Iterator[list[Program]]:
    made: list[Program] = []
    yield made
    for program in made:
        program.close()


# item 1: no request costs a Redis connection of its own


async def _anonymous_requests(url: str) -> list[int]:
    gate = asyncio.Semaphore(AT_ONCE)
    paths = [path for path, count in ANONYMOUS_REQUESTS.items() for _ in range(count)]
    async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=30) as http:

        async def one(path: str) -> int:
            async with gate:
                answer = await http.get(path)
                http.cookies.clear()  # the next request comes without a cookie, as curl's do
                return answer.status_code

        return await asyncio.gather(*(one(path) for path in paths))


def test_a_thousand_anonymous_requests_leave_the_redis_connections_as_they_were(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    with app_on(own_redis, tmp_path) as server:
        time.sleep(2)  # the process's own work (hub, call store, NiceGUI's storage) has its connections by now
        before = own_redis.connected_clients()
        peak = before
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, own_redis.connected_clients())
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        started = time.monotonic()
        try:
            statuses = asyncio.run(_anonymous_requests(server.url))
        finally:
            done.set()
            watcher.join()
        took = time.monotonic() - started
        after = own_redis.connected_clients()
        print(f'{len(statuses)} anonymous requests in {took:.1f} s: Redis clients {before} → peak {peak} → {after}')
        assert sorted(set(statuses)) == [200, 307], statuses
        assert took < 60
        assert peak <= before + 2, f'the requests opened {peak - before} Redis connections'
        assert after <= before + 2
        assert tracebacks(server) == []


# item 11: a hung Redis is noticed, shown and answered like a lost one


def test_a_hung_redis_is_noticed_within_seconds_every_tab_is_told_and_requests_are_answered(
    own_redis: RedisServer, tmp_path: Path, programs: list[Program]
) -> None:
    with app_on(own_redis, tmp_path) as server:
        alice, bob = Program.signed_up(server), Program.signed_up(server)
        programs += [alice, bob]
        assert bob.name in {user['name'] for user in alice.request('online', {})['users']}

        own_redis.pause()
        hung_at = time.monotonic()
        wait_until(lambda: server.health() == 503, '/healthz says 503', timeout=8)
        noticed_s = time.monotonic() - hung_at
        wait_until(lambda: {'interrupted': True} in alice.told('service'), 'alice is told', timeout=4)
        asked = time.monotonic()
        answer = alice.request('call_user', {'name': bob.name}, timeout=10)
        answered_s = time.monotonic() - asked
        print(f'hung Redis noticed after {noticed_s:.1f} s; a call request answered in {answered_s:.1f} s: {answer}')
        assert 'error' in answer, answer
        assert answered_s < 6
        assert noticed_s < 6

        own_redis.resume()
        wait_until(lambda: server.health() == 200, '/healthz says ok again', timeout=10)
        wait_until(lambda: {'interrupted': False} in alice.told('service'), 'alice is told it is back', timeout=5)
        call = alice.request('call_user', {'name': bob.name})['call']
        assert call['state'] == 'ringing'
        wait_until(lambda: bob.call_told(call['id'], 'ringing'), 'bob is rung', timeout=5)
        alice.request('hang_up', {'call_id': call['id']})
        time.sleep(1)  # whatever failed while Redis hung has had time to say so
        assert tracebacks(server) == []


# item 12: the deadline sweep, one clock, one name per process


def test_the_sweep_gets_past_stale_and_undecodable_deadlines_to_an_orphaned_call(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    with app_on(own_redis, tmp_path) as server:
        caller, _ = server.add_user()
        callee, _ = server.add_user()
        shared = Redis.from_url(own_redis.url)
        long_ago = time.time() - 3600
        shared.zadd('vc:deadlines', {f'cStale{i}': long_ago + i for i in range(150)})  # calls gone, ids left
        shared.zadd('vc:deadlines', {b'\xff\xfe not text': long_ago, 'cCorrupt': long_ago})  # type: ignore[type-var]
        shared.set('vc:call:cCorrupt', b'{not json')
        call = orphan_call(caller, callee, rings_until=time.time() + 1)
        with shared.pipeline() as pipe:
            pipe.set(f'vc:call:{call.id}', call.to_json())
            pipe.set(f'vc:in-call:{caller}', call.id)
            pipe.set(f'vc:in-call:{callee}', call.id)
            pipe.zadd('vc:deadlines', {call.id: call.rings_until or 0})
            pipe.execute()
        mark = server.log_mark()

        server.wait_for_log(f'📵 Call missed: {caller} → {callee}', timeout=6, since=mark)
        time.sleep(2)  # eight more sweeps
        lines = server.log_text()[mark:].splitlines()
        print('\n'.join(lines))
        assert shared.get(f'vc:call:{call.id}') is None
        assert shared.zcard('vc:deadlines') == 0  # swept, the undecodable ones too (their keys are left as found)
        assert shared.get('vc:call:cCorrupt') == b'{not json'
        assert tracebacks(server) == []
        assert len([line for line in lines if 'deadline' in line]) <= 2, 'one line per undecodable entry, once'
        shared.close()


SKEWED = 'tests/security/skewed_clock_main.py'  # main.py with the machine's clock 25 s ahead
RING_S = 6


def test_a_process_whose_clock_is_ahead_ends_nobodys_call_early_nor_takes_anyone_offline(
    own_redis: RedisServer, tmp_path: Path, programs: list[Program]
) -> None:
    data = tmp_path / 'data'  # one database for both, as scripts/cluster.sh runs them
    settings = {'REDIS_URL': own_redis.url, 'RING_TIMEOUT_S': RING_S}
    one = AppServer(PROJECT_DIR, data, tmp_path / 'one.log', {**settings, 'INSTANCE': 'one'})
    ahead = AppServer(PROJECT_DIR, data, tmp_path / 'ahead.log', {**settings, 'INSTANCE': 'ahead'}, script=SKEWED)
    with one, ahead:
        alice, bob = Program.signed_up(one), Program.signed_up(one)
        programs += [alice, bob]
        placed = time.monotonic()
        call = alice.request('call_user', {'name': bob.name})['call']
        ended = wait_until(lambda: bob.call_told(call['id'], 'ended'), 'the call ended', timeout=RING_S + 4)
        rang_s = ended - placed
        print(f'a call with a {RING_S} s ring timeout rang {rang_s:.1f} s')
        assert rang_s > RING_S - 0.5, f'ended after {rang_s:.1f} s by a clock 25 s ahead'
        assert bob.told('call')[-1]['end_reason'] == 'missed'
        assert bob.name in {user['name'] for user in alice.request('online', {})['users']}
        logs = one.log_text() + ahead.log_text()
        assert 'User disconnected' not in logs, 'a lease ran out early by a clock 25 s ahead'
        assert tracebacks(one) == [] and tracebacks(ahead) == []


def _start_refused(server: AppServer, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`python main.py` with the server's settings, expected to give up; killed if it serves instead."""
    process = subprocess.Popen(
        [sys.executable, 'main.py'],
        cwd=PROJECT_DIR,
        env=server.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f'a second process under a live name started and served\n{stdout[-2000:]}')
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize('name', ['app1', None], ids=['INSTANCE set', 'default HOST:PORT'])
def test_a_second_process_under_a_live_instance_name_refuses_to_start_in_one_line(
    own_redis: RedisServer, tmp_path: Path, name: str | None
) -> None:
    first = app_on(own_redis, tmp_path, 'first', **({'INSTANCE': name} if name else {}))
    with first:
        taken = name or f'127.0.0.1:{first.port}'  # two containers on 0.0.0.0:8080 would both be called that
        second = app_on(own_redis, tmp_path, 'second', INSTANCE=taken)
        refused = _start_refused(second)
        assert refused.returncode == 2
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1, refused.stderr
        assert lines[0].startswith('VoiceConnect cannot start: VOICECONNECT_INSTANCE:'), lines
        assert taken in lines[0]
        assert first.health() == 200  # the first one carries on

        first.crash()  # kill -9: its heartbeat stops; a process restarted under its name must start
        started = time.monotonic()
        again = app_on(own_redis, tmp_path, 'again', INSTANCE=taken)
        with again:
            print(f'restarted under the name of a killed process in {time.monotonic() - started:.1f} s')
            assert again.health() == 200
