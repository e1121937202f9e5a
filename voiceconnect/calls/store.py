"""Where live calls are kept, and what makes a transition atomic.

The call manager makes every change of a call inside `CallStore.transact(step)`: `step` reads the calls it needs
through the `CallTx` it is given (a call by id, or the live call of a user), checks, changes them and saves them;
nothing it did is kept unless the whole step succeeds. With one process that is trivially true
(`MemoryCallStore`: nothing else runs while a step runs). A store shared by several processes (Redis) watches
what a step read and runs the step again if another process changed it meanwhile, so `step` must have no effect
outside the transaction: the call manager collects its log lines, rows and news and applies them after the
commit.

A store also keeps each live call's deadline (when a ringing call becomes missed, when an answered call whose
media never came up fails) and calls `on_deadline(call_id)` when it passes.
"""

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from ..clock import Clock, Timer
from .machine import Call

T = TypeVar('T')


class CallTx(Protocol):
    async def get(self, call_id: str) -> Call | None:
        """A live call by id."""
        ...

    async def of_user(self, user: str) -> Call | None:
        """The live call `user` is in (joined, or ringing)."""
        ...

    def save(self, call: Call) -> None:
        """Keep the live call as it is now: its present members are in it (those who left are free), its deadline is
        `call.deadline`."""
        ...

    def delete(self, call: Call) -> None:
        """The call ended: gone from the live calls, its people free, its deadline dropped."""
        ...


class CallStore(Protocol):
    def start(self) -> None:
        """Begin watching deadlines (a shared store sweeps those set by any process)."""
        ...

    async def stop(self) -> None: ...

    async def transact(self, step: Callable[[CallTx], Awaitable[T]]) -> T: ...

    def cached(self, call_id: str) -> Call | None:
        """The live call as this process last saw it (no waiting: for pages that read it while they draw)."""
        ...

    def cached_of(self, user: str) -> Call | None: ...

    def live_calls(self) -> dict[str, Call]:
        """The live calls this process knows (all of them, in one process)."""
        ...

    async def still_live(self, call_ids: list[str]) -> set[str]:
        """Of these calls, the ones still going on (a row left open by a crash, carried on by other processes)."""
        ...


class CallIndex:
    """Live calls by id and by each of their people, as this process knows them."""

    def __init__(self) -> None:
        self.calls: dict[str, Call] = {}
        self._by_user: dict[str, str] = {}  # user → the live call they are in

    def put(self, call: Call) -> None:
        self.calls[call.id] = call
        present = call.present_users()
        for user in present:
            self._by_user[user] = call.id
        self._free(call, [user for user in call.everyone() if user not in present])  # they left this call

    def drop(self, call: Call) -> None:
        self.calls.pop(call.id, None)
        self._free(call, call.everyone())

    def _free(self, call: Call, users: list[str]) -> None:
        for user in users:
            if self._by_user.get(user) == call.id:  # not if they are in another call by now
                del self._by_user[user]

    def get(self, call_id: str) -> Call | None:
        return self.calls.get(call_id)

    def of(self, user: str) -> Call | None:
        call_id = self._by_user.get(user)
        return self.calls.get(call_id) if call_id else None


class DeadlineTimers:
    """A timer for each live call's deadline, on the clock: `set(call_id, deadline)` (re)schedules it (None drops
    it), and `on_deadline(call_id)` runs when it passes."""

    def __init__(self, clock: Clock, on_deadline: Callable[[str], Awaitable[None]]) -> None:
        self.clock = clock
        self.on_deadline = on_deadline
        self._timers: dict[str, tuple[float, Timer]] = {}  # call → (its deadline, the timer for it)

    def set(self, call_id: str, deadline: float | None) -> None:
        current = self._timers.get(call_id)
        if current is not None and current[0] == deadline:
            return
        if current is not None:
            current[1].cancel()
            del self._timers[call_id]
        if deadline is not None:
            delay = max(0.0, deadline - self.clock.now())
            self._timers[call_id] = (deadline, self.clock.call_later(delay, lambda: self._passed(call_id)))

    def cancel_all(self) -> None:
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def _passed(self, call_id: str) -> None:
        self._timers.pop(call_id, None)
        await self.on_deadline(call_id)


class MemoryCallStore:
    """The live calls of one process, in memory; deadlines are timers on the clock."""

    def __init__(self, clock: Clock, on_deadline: Callable[[str], Awaitable[None]]) -> None:
        self.clock = clock
        self.index = CallIndex()
        self.deadlines = DeadlineTimers(clock, on_deadline)

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.deadlines.cancel_all()

    async def transact(self, step: Callable[[CallTx], Awaitable[T]]) -> T:
        return await step(_MemoryTx(self))  # nothing else runs meanwhile: the step never waits for anything

    def cached(self, call_id: str) -> Call | None:
        return self.index.get(call_id)

    def cached_of(self, user: str) -> Call | None:
        return self.index.of(user)

    def live_calls(self) -> dict[str, Call]:
        return self.index.calls

    async def still_live(self, call_ids: list[str]) -> set[str]:
        return set()  # the calls of an earlier run of this process ended with it

    def _save(self, call: Call) -> None:
        self.index.put(call)
        self.deadlines.set(call.id, call.deadline)

    def _delete(self, call: Call) -> None:
        self.index.drop(call)
        self.deadlines.set(call.id, None)


class _MemoryTx:
    def __init__(self, store: MemoryCallStore) -> None:
        self.store = store

    async def get(self, call_id: str) -> Call | None:
        return self.store.cached(call_id)

    async def of_user(self, user: str) -> Call | None:
        return self.store.cached_of(user)

    def save(self, call: Call) -> None:
        self.store._save(call)

    def delete(self, call: Call) -> None:
        self.store._delete(call)
