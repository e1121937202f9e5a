"""Security headers on every kind of response, read over HTTP from the app started as `python main.py`."""

import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import nicegui
import pytest

from voiceconnect.testing.servers import PROJECT_DIR, AppServer, self_signed_certificate
from web.security_headers import PERMISSIONS_POLICY

NICEGUI_STATIC = f'/_nicegui/{nicegui.__version__}/static'
EVERY_RESPONSE = {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Permissions-Policy': PERMISSIONS_POLICY,
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
}
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]{20,})'")


@dataclass
class Reply:
    status: int
    headers: Message
    body: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the redirect itself is under test, not where it leads


def fetch(url: str, method: str = 'GET') -> Reply:
    insecure = ssl.create_default_context()  # the HTTPS server below has a self-signed certificate
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=insecure), _NoRedirects()
    )
    try:
        with opener.open(urllib.request.Request(url, method=method), timeout=10) as response:
            return Reply(response.status, response.headers, response.read().decode(errors='replace'))
    except urllib.error.HTTPError as error:  # redirects and 404s arrive here: they are answers too
        return Reply(error.code, error.headers, error.read().decode(errors='replace'))


def directives(policy: str) -> dict[str, str]:
    return {name: value for name, _, value in (part.strip().partition(' ') for part in policy.split(';'))}


def start_server(tmp_path_factory: pytest.TempPathFactory, overrides: dict[str, str]) -> AppServer:
    root = tmp_path_factory.mktemp('vc-headers')
    return AppServer(PROJECT_DIR, root / 'data', root / 'server.log', overrides).start()


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    app_server = start_server(tmp_path_factory, {})
    yield app_server
    app_server.stop()


def assert_security_headers(reply: Reply) -> dict[str, str]:
    for name, value in EVERY_RESPONSE.items():
        assert reply.headers[name] == value, name
    assert 'Strict-Transport-Security' not in reply.headers  # plain HTTP: HSTS would be ignored or lock users out
    policy = directives(reply.headers['Content-Security-Policy'])
    assert policy['default-src'] == "'none'"
    assert policy['frame-ancestors'] == "'none'"
    assert policy['object-src'] == "'none'"
    assert 'unsafe-inline' not in policy['script-src']
    return policy


@pytest.mark.parametrize(
    'path',
    [
        '/assets/voiceconnect.js',
        '/assets/ringtone.wav',
        f'{NICEGUI_STATIC}/nicegui.js',
        '/healthz',
        '/assets/missing.js',
    ],
)
def test_assets_static_files_and_api_answers_carry_the_headers(server: AppServer, path: str) -> None:
    reply = fetch(server.url + path)
    assert reply.status in (200, 307, 404)
    policy = assert_security_headers(reply)
    assert 'nonce-' not in policy['script-src']  # not a page: no inline script is allowed at all


def test_the_sign_in_redirect_carries_the_headers(server: AppServer) -> None:
    reply = fetch(server.url + '/call/abc')
    assert reply.status == 307
    assert reply.headers['Location'] == '/login?next=%2Fcall%2Fabc'
    assert_security_headers(reply)


def test_a_page_allows_exactly_its_own_inline_scripts_by_a_fresh_nonce(server: AppServer) -> None:
    first, second = fetch(server.url + '/login'), fetch(server.url + '/login')
    assert first.status == 200
    policy = assert_security_headers(first)
    match = NONCE.search(policy['script-src'])
    assert match, policy['script-src']
    nonce = match.group(1)
    scripts = re.findall(r'<script\b[^>]*>', first.body)
    assert len(scripts) >= 5  # import map, addStyle, Vue, page data, our browser module ...
    assert all(f'nonce="{nonce}"' in tag for tag in scripts), scripts
    assert NONCE.search(second.headers['Content-Security-Policy']).group(1) != nonce  # type: ignore[union-attr]
    assert int(first.headers['Content-Length']) == len(first.body.encode())


def test_a_head_request_for_a_page_keeps_its_length_and_gets_a_policy(server: AppServer) -> None:
    reply = fetch(server.url + '/login', method='HEAD')
    assert reply.status in (200, 405)  # NiceGUI answers what it supports; the headers must be there either way
    assert_security_headers(reply)


def test_the_storage_secret_is_generated_per_installation(server: AppServer, tmp_path_factory) -> None:
    """No built-in constant signs the session cookies: each data dir gets its own random secret."""
    secret = (server.data_dir / 'storage_secret').read_text().strip()
    assert len(secret) >= 32
    other = start_server(tmp_path_factory, {})
    try:
        assert (other.data_dir / 'storage_secret').read_text().strip() != secret
    finally:
        other.stop()


def test_https_adds_hsts(tmp_path_factory: pytest.TempPathFactory) -> None:
    cert, key = self_signed_certificate(Path(tmp_path_factory.mktemp('tls')))
    app_server = start_server(tmp_path_factory, {'SSL_CERTFILE': str(cert), 'SSL_KEYFILE': str(key)})
    try:
        for path in ('/login', '/healthz', '/'):
            reply = fetch(app_server.url + path)
            assert reply.headers['Strict-Transport-Security'] == 'max-age=31536000', path
            assert reply.headers['X-Content-Type-Options'] == 'nosniff', path
    finally:
        app_server.stop()
