"""Settings: DESIGN.md's defaults, VOICECONNECT_* env vars and .env, ICE servers, TLS pair, the storage secret."""

import ast
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from voiceconnect.ratelimit import Limits
from voiceconnect.settings import Settings, Timeouts


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No VOICECONNECT_* variable from the outside, and no .env but the one a test writes (cwd = tmp_path)."""
    for name in list(os.environ):
        if name.startswith('VOICECONNECT_'):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_match_the_design() -> None:
    settings = Settings()
    assert settings.host == '127.0.0.1'
    assert settings.port == 8080
    assert settings.data_dir == Path('./data')
    assert settings.storage_secret is None
    assert settings.ring_timeout_s == 45
    assert settings.reconnect_grace_s == 20
    assert (settings.ssl_certfile, settings.ssl_keyfile, settings.https) == (None, None, False)


def test_default_ice_servers_are_one_public_stun_server() -> None:
    (server,) = Settings().ice_servers
    assert str(server['urls']).startswith('stun:')


def test_default_ice_servers_are_not_shared_between_settings() -> None:
    Settings().ice_servers.append({'urls': 'stun:mutated'})
    assert len(Settings().ice_servers) == 1


@pytest.mark.parametrize(
    ('name', 'value', 'attribute', 'expected'),
    [
        ('HOST', '0.0.0.0', 'host', '0.0.0.0'),
        ('PORT', '9443', 'port', 9443),
        ('DATA_DIR', '/srv/vc', 'data_dir', Path('/srv/vc')),
        ('STORAGE_SECRET', 's3cret', 'storage_secret', 's3cret'),
        ('RING_TIMEOUT_S', '5', 'ring_timeout_s', 5),
        ('RING_TIMEOUT_S', '2.5', 'ring_timeout_s', 2.5),
        ('RECONNECT_GRACE_S', '60', 'reconnect_grace_s', 60),
        ('MEDIA_TIMEOUT_S', '7', 'media_timeout_s', 7),
    ],
)
def test_env_vars_set_each_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, attribute: str, expected: object
) -> None:
    monkeypatch.setenv(f'VOICECONNECT_{name}', value)
    assert getattr(Settings(), attribute) == expected


def test_env_var_names_ignore_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('voiceconnect_port', '9000')
    assert Settings().port == 9000


def test_a_dot_env_file_is_read(clean_env: Path) -> None:
    (clean_env / '.env').write_text('VOICECONNECT_PORT=9001\nVOICECONNECT_ICE_SERVERS=[]\n')
    settings = Settings()
    assert (settings.port, settings.ice_servers) == (9001, [])


def test_env_vars_win_over_the_dot_env_file(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / '.env').write_text('VOICECONNECT_PORT=9001\n')
    monkeypatch.setenv('VOICECONNECT_PORT', '9002')
    assert Settings().port == 9002


def test_unrelated_dot_env_entries_are_ignored(clean_env: Path) -> None:
    (clean_env / '.env').write_text('OTHER_APP_SETTING=1\n')
    assert Settings().port == 8080


@pytest.mark.parametrize(
    ('name', 'value'),
    [('PORT', 'http'), ('PORT', '0'), ('PORT', '70000'), ('RING_TIMEOUT_S', '0'), ('RECONNECT_GRACE_S', '-1')],
)
def test_bad_numbers_are_rejected(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f'VOICECONNECT_{name}', value)
    with pytest.raises(ValidationError):
        Settings()


# rate limits


def test_rate_limit_defaults() -> None:
    limits = Settings().limits
    assert (limits.signin_failures_per_minute, limits.signin_failures_per_minute_per_address) == (5, 20)
    assert limits.signin_lockout_max_s == 900
    assert limits.signups_per_hour_per_address == 10
    assert limits.calls_per_minute == 10
    assert (limits.signals_per_second, limits.signal_burst) == (50, 200)


@pytest.mark.parametrize(
    ('name', 'value', 'attribute', 'expected'),
    [
        ('SIGNIN_FAILURES_PER_MINUTE', '3', 'signin_failures_per_minute', 3),
        ('SIGNIN_FAILURES_PER_MINUTE_PER_ADDRESS', '100', 'signin_failures_per_minute_per_address', 100),
        ('SIGNIN_LOCKOUT_MAX_S', '3600', 'signin_lockout_max_s', 3600),
        ('SIGNUPS_PER_HOUR_PER_ADDRESS', '50', 'signups_per_hour_per_address', 50),
        ('CALLS_PER_MINUTE', '1000', 'calls_per_minute', 1000),
        ('SIGNALS_PER_SECOND', '20', 'signals_per_second', 20),
        ('SIGNAL_BURST', '500', 'signal_burst', 500),
    ],
)
def test_env_vars_set_each_rate_limit(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, attribute: str, expected: object
) -> None:
    monkeypatch.setenv(f'VOICECONNECT_{name}', value)
    assert getattr(Settings().limits, attribute) == expected


@pytest.mark.parametrize(
    'name',
    [
        'SIGNIN_FAILURES_PER_MINUTE',
        'SIGNIN_FAILURES_PER_MINUTE_PER_ADDRESS',
        'SIGNIN_LOCKOUT_MAX_S',
        'SIGNUPS_PER_HOUR_PER_ADDRESS',
        'CALLS_PER_MINUTE',
        'SIGNALS_PER_SECOND',
        'SIGNAL_BURST',
    ],
)
@pytest.mark.parametrize('value', ['0', '-5', 'many'])
def test_rate_limits_must_be_positive_numbers(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f'VOICECONNECT_{name}', value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


# ICE servers


def test_ice_servers_empty_list_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('VOICECONNECT_ICE_SERVERS', '[]')
    assert Settings().ice_servers == []


def test_ice_servers_json_with_turn_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    servers = [
        {'urls': 'stun:stun.example.org:3478'},
        {'urls': ['turn:turn.example.org:3478?transport=udp'], 'username': 'u', 'credential': 'p'},
    ]
    monkeypatch.setenv(
        'VOICECONNECT_ICE_SERVERS',
        '[{"urls": "stun:stun.example.org:3478"}, '
        '{"urls": ["turn:turn.example.org:3478?transport=udp"], "username": "u", "credential": "p"}]',
    )
    assert Settings().ice_servers == servers


def test_ice_servers_json_string_given_directly() -> None:
    assert Settings(ice_servers='[{"urls": "stun:h:1"}]').ice_servers == [{'urls': 'stun:h:1'}]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    'value',
    ['{"urls": "stun:h:1"}', '[1, 2]', '[{"url": "stun:h:1"}]', '["stun:h:1"]', '"stun:h:1"'],
    ids=['an object, not a list', 'numbers', 'misspelled urls', 'bare strings', 'one string'],
)
def test_ice_servers_of_the_wrong_shape_are_rejected_with_an_example(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv('VOICECONNECT_ICE_SERVERS', value)
    with pytest.raises(ValidationError, match='must be a JSON list of objects'):
        Settings()


def test_ice_servers_bad_json_passed_directly_is_explained() -> None:
    with pytest.raises(ValidationError, match='not a JSON list of RTCIceServer objects'):
        Settings(ice_servers='[{"urls": ')  # type: ignore[arg-type]


def test_ice_servers_bad_json_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('VOICECONNECT_ICE_SERVERS', '[{"urls": stun:h:1}]')
    with pytest.raises((ValidationError, SettingsError), match=r'(?i)ice_servers'):
        Settings()


def test_ice_servers_bad_json_in_the_environment_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('VOICECONNECT_ICE_SERVERS', '[{"urls": stun:h:1}]')
    with pytest.raises((ValidationError, SettingsError)) as error:
        Settings()
    assert 'JSON list of RTCIceServer objects' in str(error.value)


# HTTPS


def test_certificate_and_key_together_turn_on_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('VOICECONNECT_SSL_CERTFILE', '/etc/vc/cert.pem')
    monkeypatch.setenv('VOICECONNECT_SSL_KEYFILE', '/etc/vc/key.pem')
    settings = Settings()
    assert settings.https
    assert settings.ssl_certfile == Path('/etc/vc/cert.pem')


@pytest.mark.parametrize('only', ['SSL_CERTFILE', 'SSL_KEYFILE'])
def test_certificate_without_key_or_key_without_certificate_is_an_error(
    monkeypatch: pytest.MonkeyPatch, only: str
) -> None:
    monkeypatch.setenv(f'VOICECONNECT_{only}', '/etc/vc/file.pem')
    with pytest.raises(ValidationError, match='SSL_CERTFILE and SSL_KEYFILE'):
        Settings()


# storage secret and paths


def test_the_database_lives_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / 'd')
    assert settings.database_url == f'sqlite+aiosqlite:///{tmp_path / "d" / "voiceconnect.db"}'


def test_another_database_is_a_url_change(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / 'd', database='postgresql+asyncpg://vc@db.example.org/voiceconnect')
    assert settings.database_url == 'postgresql+asyncpg://vc@db.example.org/voiceconnect'


def test_a_storage_secret_is_generated_on_first_run_in_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / 'fresh' / 'data'
    secret = Settings(data_dir=data_dir).effective_storage_secret
    assert len(secret) >= 32
    assert (data_dir / 'storage_secret').read_text().strip() == secret


def test_the_generated_storage_secret_is_private_to_its_owner(tmp_path: Path) -> None:
    Settings(data_dir=tmp_path).effective_storage_secret  # noqa: B018
    assert stat.S_IMODE((tmp_path / 'storage_secret').stat().st_mode) == 0o600


def test_the_generated_storage_secret_is_reused_on_the_next_run(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).effective_storage_secret
    assert Settings(data_dir=tmp_path).effective_storage_secret == first


def test_the_generated_storage_secret_is_not_a_constant(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / 'one').effective_storage_secret
    two = Settings(data_dir=tmp_path / 'two').effective_storage_secret
    assert one != two


def test_a_configured_storage_secret_wins_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('VOICECONNECT_STORAGE_SECRET', 'from-the-operator')
    monkeypatch.setenv('VOICECONNECT_DATA_DIR', str(tmp_path / 'data'))
    assert Settings().effective_storage_secret == 'from-the-operator'
    assert not (tmp_path / 'data' / 'storage_secret').exists()


# several processes


def test_redis_url_must_name_a_redis() -> None:
    with pytest.raises(ValidationError, match='REDIS_URL must start with redis://'):
        Settings(redis_url='http://127.0.0.1:6379')


def test_janus_is_off_unless_its_url_is_set() -> None:
    settings = Settings()
    assert (settings.janus_url, settings.janus_api_secret, settings.janus_admin_key) == (None, None, None)
    given = Settings(janus_url='ws://127.0.0.1:8188', janus_api_secret='s', janus_admin_key='k')
    assert given.janus_url == 'ws://127.0.0.1:8188'


def test_janus_url_must_name_its_websocket_api() -> None:
    with pytest.raises(ValidationError, match='JANUS_URL must be Janus'):
        Settings(janus_url='http://127.0.0.1:8088/janus')


@pytest.mark.parametrize('name', ['JANUS_API_SECRET', 'JANUS_ADMIN_KEY'])
def test_a_janus_secret_without_its_janus_is_an_error(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(f'VOICECONNECT_{name}', 'secret')
    with pytest.raises(ValidationError, match=f'VOICECONNECT_{name}: set JANUS_URL too'):
        Settings()


def test_each_process_is_named_after_its_address_unless_given_a_name() -> None:
    assert Settings(host='127.0.0.1', port=8081).instance_name == '127.0.0.1:8081'
    assert Settings(port=8081, instance='app1').instance_name == 'app1'


@pytest.mark.parametrize('model', [Limits, Timeouts])
def test_limits_and_timeouts_refuse_a_name_they_do_not_have(model: type[Limits] | type[Timeouts]) -> None:
    """A misspelt limit in code (a test once passed `call_attempts_per_minute`) is an error, not the default."""
    with pytest.raises(ValidationError, match='Extra inputs are not permitted'):
        model(call_attempts_per_minute=1000)  # type: ignore[call-arg]


def test_loading_the_settings_loads_none_of_the_core() -> None:
    """Settings are a leaf: reading them (the admin command, start-up checks) starts no part of the app."""
    code = 'import sys, voiceconnect.settings; print(sorted(m for m in sys.modules if m.startswith("voiceconnect")))'
    loaded = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert ast.literal_eval(loaded) == [
        'voiceconnect',
        'voiceconnect.clock',
        'voiceconnect.ratelimit',
        'voiceconnect.settings',
        'voiceconnect.turn',
    ]
