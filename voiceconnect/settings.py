"""Settings from `VOICECONNECT_*` environment variables or a `.env` file (see the README's table)."""

import json
import secrets
from dataclasses import fields
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .ratelimit import Limits

DEFAULT_ICE_SERVERS: list[dict[str, Any]] = [{'urls': 'stun:stun.l.google.com:19302'}]
_LIMITS = Limits()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix='VOICECONNECT_', env_file='.env', extra='ignore')

    host: str = '127.0.0.1'
    port: int = Field(8080, ge=1, le=65535)
    data_dir: Path = Path('./data')
    storage_secret: str | None = None
    ice_servers: Annotated[list[dict[str, Any]], NoDecode] = Field(default_factory=lambda: list(DEFAULT_ICE_SERVERS))
    ring_timeout_s: float = Field(45, gt=0)
    reconnect_grace_s: float = Field(20, gt=0)
    media_timeout_s: float = Field(20, gt=0, description='answered call whose media never comes up ends `failed`')
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    # rate limits (see voiceconnect/ratelimit.py)
    signin_failures_per_minute: int = Field(
        _LIMITS.signin_failures_per_minute, gt=0, description='failed sign-ins per username before it is locked'
    )
    signin_failures_per_minute_per_address: int = Field(
        _LIMITS.signin_failures_per_minute_per_address,
        gt=0,
        description='failed sign-ins per client address before it is locked',
    )
    signin_lockout_max_s: float = Field(
        _LIMITS.signin_lockout_max_s, gt=0, description='longest sign-in lock; locks start at 60 s and double'
    )
    signups_per_hour_per_address: int = Field(
        _LIMITS.signups_per_hour_per_address, gt=0, description='accounts created per client address'
    )
    calls_per_minute: int = Field(_LIMITS.calls_per_minute, gt=0, description='call attempts per user')
    signals_per_second: int = Field(
        _LIMITS.signals_per_second, gt=0, description='signaling messages per tab; excess is dropped'
    )
    signal_burst: int = Field(_LIMITS.signal_burst, gt=0, description='signaling messages per tab at once')

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

    @property
    def https(self) -> bool:
        return self.ssl_certfile is not None

    @property
    def limits(self) -> Limits:
        return Limits(**{limit.name: getattr(self, limit.name) for limit in fields(Limits)})  # same names

    @property
    def database_url(self) -> str:
        return f'sqlite+aiosqlite:///{self.data_dir / "voiceconnect.db"}'

    @cached_property
    def effective_storage_secret(self) -> str:
        """The configured secret, or one generated on first run and kept in DATA_DIR (never a constant)."""
        if self.storage_secret:
            return self.storage_secret
        path = self.data_dir / 'storage_secret'
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
