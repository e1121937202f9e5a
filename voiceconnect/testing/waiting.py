"""`wait_until`: how every part of the harness, and every test, waits for something to happen."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar('T')


def wait_until(
    condition: Callable[[], T | None], what: str | Callable[[], str], timeout: float = 10, interval: float = 0.1
) -> T:
    """Poll `condition` until it returns something truthy and return that; on timeout fail with an AssertionError
    saying what did not happen (`what` may be a function, to describe the last state seen)."""
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f'{what() if callable(what) else what} (waited {timeout:g} s)')
        time.sleep(interval)
