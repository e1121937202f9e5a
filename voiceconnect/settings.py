"""Settings from `VOICECONNECT_*` environment variables or a `.env` file (see the README's table)."""

import contextlib
import ipaddress
import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .ratelimit import Limits
from .turn import IcePolicy


class Timeouts(BaseModel):
    """How long things may take: the base of `Settings` (environment variables `RING_TIMEOUT_S` …)."""

    model_config = ConfigDict(frozen=True, extra='forbid')  # a misspelt limit is an error, not the default

    ring_timeout_s: float = Field(45, gt=0, description='an unanswered call becomes `missed`')
    reconnect_grace_s: float = Field(20, gt=0, description='how long a user with no connected tab stays online')
    media_timeout_s: float = Field(20, gt=0, description='an answered call whose audio never comes up ends `failed`')


def redis_problem(url: str) -> str | None:
    """Why Redis at `url` cannot be used, in a few words; None if it answers."""
    import redis  # only when REDIS_URL is set

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as error:
        return f'no answer from Redis at {url} ({error})'
    return None


ENV_PREFIX = 'VOICECONNECT_'
LOOPBACK = ['127.0.0.0/8', '::1/128']
DEFAULT_ICE_SERVERS: list[dict[str, Any]] = [{'urls': 'stun:stun.l.google.com:19302'}]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class Settings(BaseSettings, Timeouts, Limits):
    """Everything configurable. The timeouts and rate limits are declared once, in `Timeouts` and `Limits`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file='.env', extra='ignore', frozen=False)

    host: str = '127.0.0.1'
    port: int = Field(8080, ge=1, le=65535)
    data_dir: Path = Path('./data')
    storage_secret: str | None = None
    ice_servers: Annotated[list[dict[str, Any]], NoDecode] = Field(default_factory=lambda: list(DEFAULT_ICE_SERVERS))
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    # browsers reach the app over HTTPS through a TLS proxy in front of it (which itself talks plain HTTP to the
    # app): cookies are then Secure and `__Host-` prefixed, and HSTS is sent, as with SSL_CERTFILE
    behind_tls_proxy: bool = False
    redis_url: str | None = None  # unset: one process, in-memory hub; redis://…: shared state, several processes
    # every Redis command gives up after this long (a hung Redis is noticed within seconds, like a lost one), and
    # each of a process's two pools of Redis connections (its own work; NiceGUI's storage) holds at most this many
    redis_timeout_s: float = Field(2.0, gt=0, le=60)
    redis_pool_size: int = Field(16, ge=4, le=1000)
    instance: str | None = None  # this process's name in logs and /healthz; host:port unless set
    database: str | None = None  # a SQLAlchemy async URL (e.g. postgresql+asyncpg://…); unset: SQLite in DATA_DIR
    signup: Literal['open', 'closed'] = 'open'  # closed: only `python -m voiceconnect.admin add-user` makes accounts
    sound_test: bool = True  # a built-in contact `Sound test` that answers and plays back what you say
    # a call that ends unanswered offers the caller `Leave a message` (people/messages.py, programs/voicemail.py)
    voicemail: bool = True
    voicemail_max_s: float = Field(60, gt=0, le=600)  # the longest message recorded
    voicemail_messages_per_user: int = Field(50, ge=1)  # messages one person's mailbox holds
    voicemail_bytes_per_user: int = Field(20_000_000, ge=100_000)  # what they may take on disk (~0.3 MB/min)
    # TURN with time-limited credentials (coturn's REST API scheme): see voiceconnect/turn.py
    turn_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    turn_secret: str | None = None
    turn_ttl_s: int = Field(3600, ge=60)
    ice_transport_policy: Literal['all', 'relay'] = 'all'
    # Janus Gateway's AudioBridge for group calls (voiceconnect/bridge): its WebSocket API, the API secret janus.jcfg
    # asks for and the AudioBridge's admin_key; all three stay on the server
    janus_url: str | None = None
    janus_api_secret: str | None = None
    janus_admin_key: str | None = None
    # how group calls carry their audio: `auto` (a mesh up to MESH_MAX, then the bridge, with JANUS_URL), `bridge`
    # (every group call on the bridge from its third person), `mesh` (never the bridge: at most MESH_MAX people)
    group_media: Literal['auto', 'bridge', 'mesh'] = 'auto'
    log_format: Literal['text', 'json'] = 'text'
    # who may read GET /metrics: addresses or networks, comma-separated; loopback only by default
    metrics_allow: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(LOOPBACK))

    @field_validator('ice_servers', mode='before')
    @classmethod
    def _parse_ice_servers(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f'not a JSON list of RTCIceServer objects ({error})') from None
        if not isinstance(value, list) or not all(isinstance(s, dict) and 'urls' in s for s in value):
            raise ValueError('must be a JSON list of objects with "urls", e.g. [{"urls": "stun:host:3478"}]')
        return value

    @field_validator('turn_urls', mode='before')
    @classmethod
    def _parse_turn_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except json.JSONDecodeError:
                example = '["turn:turn.example.org:3478"]'
                raise ValueError(f'not a JSON list of turn: URIs, e.g. {example}: {value!r}') from None
        if not isinstance(value, list) or not all(
            isinstance(url, str) and url.startswith(('turn:', 'turns:')) for url in value
        ):
            raise ValueError(f'each entry must be a turn: or turns: URI, e.g. "turn:turn.example.org:3478": {value!r}')
        return value

    @field_validator('metrics_allow', mode='before')
    @classmethod
    def _parse_networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(',') if part.strip()]
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f'not an address or network (e.g. 10.0.0.0/8): {network!r}') from None
        return value

    @model_validator(mode='after')
    def _check_pairs(self) -> 'Settings':
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            missing = 'SSL_KEYFILE' if self.ssl_keyfile is None else 'SSL_CERTFILE'
            raise ValueError(f'{ENV_PREFIX}{missing}: set both SSL_CERTFILE and SSL_KEYFILE to serve HTTPS, or neither')
        if bool(self.turn_urls) != bool(self.turn_secret):
            missing = 'TURN_SECRET' if not self.turn_secret else 'TURN_URLS'
            raise ValueError(f'{ENV_PREFIX}{missing}: set both TURN_URLS and TURN_SECRET for TURN, or neither')
        if (self.janus_api_secret or self.janus_admin_key) and not self.janus_url:
            given = 'JANUS_API_SECRET' if self.janus_api_secret else 'JANUS_ADMIN_KEY'
            raise ValueError(f'{ENV_PREFIX}{given}: set JANUS_URL too (the Janus it is the secret of), or neither')
        if self.ice_transport_policy == 'relay' and not self.turn_urls and not self._turn_in_ice_servers():
            raise ValueError(
                f'{ENV_PREFIX}ICE_TRANSPORT_POLICY: relay needs a TURN server (TURN_URLS, or a turn: entry in '
                'ICE_SERVERS): without one no call would connect'
            )
        return self

    def _turn_in_ice_servers(self) -> bool:
        urls = [url for server in self.ice_servers for url in _as_list(server['urls'])]
        return any(str(url).startswith(('turn:', 'turns:')) for url in urls)

    @field_validator('redis_url')
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(('redis://', 'rediss://', 'unix://')):
            raise ValueError(f'REDIS_URL must start with redis://, rediss:// or unix://, not {value[:40]!r}')
        return value or None

    @field_validator('janus_url')
    @classmethod
    def _check_janus_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(('ws://', 'wss://')):
            raise ValueError(f"JANUS_URL must be Janus's WebSocket API, ws:// or wss://, not {value[:40]!r}")
        return value or None

    @property
    def instance_name(self) -> str:
        return self.instance or f'{self.host}:{self.port}'

    @property
    def ice_policy(self) -> IcePolicy:
        return IcePolicy(
            self.ice_servers, self.ice_transport_policy, tuple(self.turn_urls), self.turn_secret, self.turn_ttl_s
        )

    @property
    def https(self) -> bool:
        """Whether this process serves HTTPS itself."""
        return self.ssl_certfile is not None

    @property
    def browsers_use_https(self) -> bool:
        """Whether browsers reach the app over HTTPS: served here, or by a TLS proxy in front."""
        return self.https or self.behind_tls_proxy

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
