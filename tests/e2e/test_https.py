"""With a certificate and key configured, the app serves HTTPS and its session cookie is Secure."""

import datetime
import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import expect

from voiceconnect.testing.harness import chromium_args, sign_up, write_tone_wav


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / 'cert.pem', directory / 'key.pem'
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def vc_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    cert, key = self_signed(tmp_path_factory.mktemp('tls'))
    return {'SSL_CERTFILE': str(cert), 'SSL_KEYFILE': str(key)}


def test_https_serves_the_app_with_a_secure_session_cookie(vc_server, playwright_sync, tmp_path) -> None:
    assert vc_server.url.startswith('https://')
    tone = write_tone_wav(tmp_path / 'tone.wav', 440)
    browser = playwright_sync.chromium.launch(
        executable_path='/usr/bin/chromium', args=[*chromium_args(tone), '--ignore-certificate-errors']
    )
    try:
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        sign_up(page, vc_server.url, 'tls_alice', 'tls password')
        expect(page.get_by_text('Connected', exact=True)).to_be_visible()
        session = next(c for c in context.cookies() if c['name'] == 'session')
        assert session['secure'] and session['httpOnly'] and session['sameSite'] == 'Lax'
        assert page.evaluate('window.isSecureContext')
    finally:
        browser.close()
