"""What one scrape of GET /metrics costs with 1,000 users online (each with a connected tab, 100 of them in
calls): the Prometheus text built from the live backend, in process, p50/p95 over many scrapes, wall clock and
CPU time of the thread (the machine is shared: the CPU time is the cost, the wall clock what a scraper waits).

Run it with `.venv/bin/python -m bench.metrics_scrape [users]` (no browser, no network).
"""

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from voiceconnect.backend import Backend
from voiceconnect.connections.events import Event
from voiceconnect.settings import Settings

SCRAPES = 300


class QuietTab:
    def deliver(self, event: Event) -> None:
        pass

    def relay(self, message: dict[str, Any]) -> None:
        pass


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def online(backend: Backend, users: int) -> None:
    board = backend.switchboard
    devices = []
    for number in range(users):
        name = f'user{number:04d}'
        service = await board.service_for(f'browser{number}', name, f'token{number}')
        devices.append(await board.attach(service, f'device{number}', QuietTab(), f'tab{number}'))
    for caller, callee in zip(devices[0:100:2], devices[1:100:2], strict=True):  # 50 calls, 100 people
        view = await caller.call_user(callee.user)
        if callee.user.endswith(('1', '3', '5')):
            await callee.accept(view.id)


async def main(users: int) -> None:
    from web.metrics import Metrics  # after the settings: importing web imports NiceGUI

    with tempfile.TemporaryDirectory() as data:
        backend = Backend(Settings(data_dir=Path(data), ice_servers=[], calls_per_minute=1000))
        await backend.start()
        await online(backend, users)
        metrics = Metrics(backend)
        for _ in range(20):  # warm-up
            text = metrics.text()
        timings, cpu = [], []
        for _ in range(SCRAPES):
            start, start_cpu = time.perf_counter(), time.thread_time()
            metrics.text()
            timings.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
        await backend.stop()
    online_line = next(line for line in text.decode().splitlines() if line.startswith('voiceconnect_online_users'))
    print(f'{online_line}; {len(text)} bytes per scrape')
    for name, values in (('wall', timings), ('CPU', cpu)):
        print(
            f'scrape, in process, {name:<4} n={SCRAPES} p50={statistics.median(values):6.2f} ms  '
            f'p95={percentile(values, 95):6.2f} ms  max={max(values):6.2f} ms'
        )


if __name__ == '__main__':
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
