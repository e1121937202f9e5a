"""With a certificate and key configured, the app serves HTTPS and its session cookie is Secure and `__Host-`
prefixed (no other site or subdomain can set or overwrite it)."""

import pytest
from playwright.sync_api import expect

from voiceconnect.testing.audio import write_tone_wav
from voiceconnect.testing.browser import chromium_args, sign_up
from voiceconnect.testing.servers import self_signed_certificate


@pytest.fixture
def vc_settings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    cert, key = self_signed_certificate(tmp_path_factory.mktemp('tls'))
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
        session = next(c for c in context.cookies() if c['name'] == '__Host-session')
        assert session['secure'] and session['httpOnly'] and session['sameSite'] == 'Lax'
        assert session['path'] == '/' and not session['domain'].startswith('.')  # host-only, as __Host- requires
        assert page.evaluate('window.isSecureContext')
    finally:
        browser.close()
