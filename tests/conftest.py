import pytest
from argon2 import PasswordHasher

from voiceconnect.people import accounts

pytest_plugins = ['voiceconnect.testing.plugin']

# argon2 at production cost takes tens of milliseconds per hash; in-process tests hash dozens of passwords and
# check something else (the app started as a subprocess, in tests/e2e, keeps the production cost)
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, 'PASSWORD_HASHER', CHEAP_HASHER)
