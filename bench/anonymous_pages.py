"""What anonymous page loads cost the server: N `GET /login` with no cookie and no socket (curl's way, or a
crawler's), next to the same number of `GET /` of the bare NiceGUI app of bench/bare_dialog_app.py, in one run.

For each app it prints the server's RSS before, right after the N (pages whose socket never comes, waiting) and
75 s later (NiceGUI lets such a page go after 60 s), the pages VoiceConnect counts as waiting, and how many
tracebacks the log has. `--addresses K` spreads the loads over K loopback source addresses (127.0.x.y): with one
(curl on one host) UNCONNECTED_PAGES_PER_ADDRESS binds, with many UNCONNECTED_PAGES_MAX.

    scripts/bench.sh anonymous_pages [N] [--addresses K]      (default 1000, one address)
"""

import argparse
import concurrent.futures
import http.client
import re
import tempfile
import time
from pathlib import Path

from bench.presence_load import rss_mb
from voiceconnect.testing.servers import PROJECT_DIR, AppServer

SETTLE_S = 75  # NiceGUI prunes a page that never connected after 60 s, every 10 s
IN_FLIGHT = 8


def source(n: int, addresses: int) -> str:
    k = n % addresses
    return f'127.0.{1 + k // 250}.{1 + k % 250}'


def request(port: int, path: str, address: str = '127.0.0.1') -> tuple[int, str]:
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=30, source_address=(address, 0))
    try:
        connection.request('GET', path)
        response = connection.getresponse()
        return response.status, response.read().decode(errors='replace')
    finally:
        connection.close()


def load(server: AppServer, path: str, n: int, addresses: int) -> float:
    """N page loads, IN_FLIGHT at a time, each a new browser (no cookie); returns the seconds it took."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(IN_FLIGHT) as pool:
        statuses = list(pool.map(lambda i: request(server.port, path, source(i, addresses))[0], range(n)))
    assert statuses.count(200) == n, f'not every load answered 200: {sorted(set(statuses))}'
    return time.perf_counter() - started


def waiting(server: AppServer) -> str:
    status, text = request(server.port, '/metrics')
    found = re.search(r'^voiceconnect_unconnected_pages (\S+)$', text, re.MULTILINE) if status == 200 else None
    return f'{float(found.group(1)):.0f}' if found else '-'


def measure(name: str, server: AppServer, path: str, n: int, addresses: int) -> None:
    with server:
        assert server.process is not None
        pid = server.process.pid
        load(server, path, 20, 1)  # warm up: first imports, caches
        time.sleep(2)
        before = rss_mb(pid)
        took = load(server, path, n, addresses)
        after, waiting_after = rss_mb(pid), waiting(server)
        time.sleep(SETTLE_S)
        settled = rss_mb(pid)
        tracebacks = server.log_text().count('Traceback')
        print(
            f'{name:<13} {n} loads from {addresses} address(es) in {took:5.1f} s: RSS {before:6.1f} → {after:6.1f} MB '
            f'(+{(after - before) * 1024 / n:4.0f} KB per load, {waiting_after} waiting), {settled:6.1f} MB after '
            f'{SETTLE_S} s; {tracebacks} tracebacks in the log',
            flush=True,
        )


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument('n', nargs='?', type=int, default=1000)
    arguments.add_argument('--addresses', type=int, default=1)
    args = arguments.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        app = AppServer(PROJECT_DIR, root / 'vc', root / 'vc.log')
        measure('VoiceConnect', app, '/login', args.n, args.addresses)
        bare = AppServer(PROJECT_DIR, root / 'bare', root / 'bare.log', script='bench/bare_dialog_app.py')
        measure('bare NiceGUI', bare, '/', args.n, args.addresses)


if __name__ == '__main__':
    main()
