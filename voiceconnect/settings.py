"""Settings from `VOICECONNECT_*` environment variables or a `.env` file (see the README's table)."""

import contextlib
import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .ratelimit import Limits
from .switchboard import Timeouts


def redis_problem(url: str) -> str | None:
    """Why Redis at `url` cannot be used, in a few words; None if it answers."""
    import redis  # only when REDIS_URL is set

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as error:
        return f'no answer from Redis at {url} ({error})'
    return None


DEFAULT_ICE_SERVERS: list[dict[str, Any]] = [{'urls': 'stun:stun.l.google.com:19302'}]


class Settings(BaseSettings, Timeouts, Limits):
    """Everything configurable. The timeouts and rate limits are declared once, in `Timeouts` and `Limits`."""

    model_config = SettingsConfigDict(env_prefix='VOICECONNECT_', env_file='.env', extra='ignore', frozen=False)

    host: str = '127.0.0.1'
    port: int = Field(8080, ge=1, le=65535)
    data_dir: Path = Path('./data')
    storage_secret: str | None = None
    ice_servers: Annotated[list[dict[str, Any]], NoDecode] = Field(default_factory=lambda: list(DEFAULT_ICE_SERVERS))
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    redis_url: str | None = None  # unset: one process, in-memory hub; redis://…: shared state, several processes
    instance: str | None = None  # this process's name in logs and /healthz; host:port unless set
    database: str | None = None  # a SQLAlchemy async URL (e.g. postgresql+asyncpg://…); unset: SQLite in DATA_DIR
    signup: Literal['open', 'closed'] = 'open'  # closed: only `python -m voiceconnect.admin add-user` makes accounts
    sound_test: bool = True  # a built-in contact `Sound test` that answers and plays back what you say

    @field_validator('ice_servers', mode='before')
    @classmethod
    def _parse_ice_servers(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f'ICE_SERVERS must be a JSON list of RTCIceServer objects: {error}') from None
        if not isinstance(value, list) or not all(isinstance(s, dict) and 'urls' in s for s in value):
            raise ValueError(
                'ICE_SERVERS must be a JSON list of objects with "urls", e.g. [{"urls": "stun:host:3478"}]'
            )
        return value

    @model_validator(mode='after')
    def _check_tls_pair(self) -> 'Settings':
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError('set both SSL_CERTFILE and SSL_KEYFILE to serve HTTPS, or neither')
        return self

    @field_validator('redis_url')
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(('redis://', 'rediss://', 'unix://')):
            raise ValueError(f'REDIS_URL must start with redis://, rediss:// or unix://, not {value[:40]!r}')
        return value or None

    @property
    def instance_name(self) -> str:
        return self.instance or f'{self.host}:{self.port}'

    @property
    def https(self) -> bool:
        return self.ssl_certfile is not None

    @property
    def limits(self) -> Limits:
        return Limits.model_validate(self.model_dump(include=set(Limits.model_fields)))

    @property
    def timeouts(self) -> Timeouts:
        return Timeouts.model_validate(self.model_dump(include=set(Timeouts.model_fields)))

    @property
    def database_url(self) -> str:
        return self.database or f'sqlite+aiosqlite:///{self.data_dir / "voiceconnect.db"}'

    @cached_property
    def effective_storage_secret(self) -> str:
        """The configured secret, or one generated on first run and kept in DATA_DIR (never a constant)."""
        if self.storage_secret:
            return self.storage_secret
        path = self.data_dir / 'storage_secret'
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # written aside and moved in: processes started together all read the same complete secret
            draft = path.with_name(f'.storage_secret.{secrets.token_hex(4)}')
            draft.write_text(secrets.token_urlsafe(48))
            draft.chmod(0o600)
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)  # the first process's secret wins; the others read it
            draft.unlink()
        return path.read_text().strip()
