"""Security headers on every HTTP response, and a fresh CSP nonce for the inline scripts of each page.

A pure ASGI middleware (no BaseHTTPMiddleware: that one adds a task and a stream per request). It must sit
inside NiceGUI's gzip middleware so it sees the page's HTML uncompressed: installed before `ui.run`, it does.

Why a nonce works here: NiceGUI's page template has inline `<script>`s (the import map, `addStyle`, and the
module that mounts the page with its elements as JSON). Everything a user typed reaches that HTML only inside
the elements' JSON, where NiceGUI escapes `<`, `>` and `&`; so every `<script` tag in the response was written
by NiceGUI or by our code, and only those get the nonce. A `<script>` or an `onerror=` that somehow reached the
DOM later (e.g. through `ui.html`) has no nonce and does not run.
"""

import re
import secrets
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The strictest policy the app works under in Chromium (tests/e2e/test_security.py drives a whole call and
# fails on any violation). Each allowance says what breaks without it.
CSP_DIRECTIVES: tuple[tuple[str, str], ...] = (
    ('default-src', "'none'"),  # nothing that is not listed below: no workers, frames, manifests, prefetches
    # 'self': NiceGUI, Vue, Quasar, socket.io and assets/voiceconnect.js are files of this origin.
    # nonce: NiceGUI's page template has inline scripts (import map, page data, mount code); see the docstring.
    # 'unsafe-eval': NiceGUI itself evaluates strings: run_javascript (vc.sync / vc.signal reach the browser
    # module this way), `:prop` values and event handlers of elements, and Vue compiles the templates of
    # NiceGUI's components at run time. Without it the page stays blank (Vue's compiler is refused first).
    ('script-src', "'self' 'nonce-{nonce}' 'unsafe-eval'"),
    # 'unsafe-inline': the template's inline <style>s, Quasar's and NiceGUI's style="" attributes and the
    # <style> elements that NiceGUI (addStyle) and the Tailwind runtime create; those cannot carry a nonce, and
    # a nonce in this list would switch 'unsafe-inline' off. Without it the page is unstyled (dozens of
    # violations, most from tailwindcss.min.js). CSS cannot run script in today's browsers.
    ('style-src', "'self' 'unsafe-inline'"),
    ('font-src', "'self'"),  # Roboto and Material Icons: woff2 files that come with NiceGUI
    ('img-src', "'self' data:"),  # data: NiceGUI serves the favicon (pages.root.FAVICON) as an SVG data URL
    ('media-src', "'self'"),  # ringtone and ringback from /assets; remote voice is a srcObject, not a URL
    ('connect-src', "'self'"),  # the socket.io websocket (CSP3: 'self' covers ws:/wss: of this host) and polling
    ('object-src', "'none'"),
    ('base-uri', "'none'"),  # an injected <base> cannot redirect the relative script URLs
    ('form-action', "'none'"),  # the app has no HTML forms: the socket carries everything
    ('frame-ancestors', "'none'"),  # no clickjacking: no site may frame the app (X-Frame-Options for old ones)
)

PERMISSIONS_POLICY = ', '.join(
    ['microphone=(self)']  # voice calls, from this origin only (never from a frame of another origin)
    + [
        f'{feature}=()'
        for feature in (
            'camera',
            'geolocation',
            'display-capture',
            'payment',
            'usb',
            'serial',
            'hid',
            'midi',
            'accelerometer',
            'gyroscope',
            'magnetometer',
            'screen-wake-lock',
            'publickey-credentials-get',
        )
    ]
)

STATIC_HEADERS: tuple[tuple[str, str], ...] = (
    ('X-Content-Type-Options', 'nosniff'),
    ('X-Frame-Options', 'DENY'),
    # no-referrer: the app links nowhere and its URLs hold call ids and ?next= paths that are nobody's business
    ('Referrer-Policy', 'no-referrer'),
    ('Permissions-Policy', PERMISSIONS_POLICY),
    ('Cross-Origin-Opener-Policy', 'same-origin'),  # a page of another site that opens us gets no handle on us
    ('Cross-Origin-Resource-Policy', 'same-origin'),  # other sites cannot embed our scripts, sounds or JSON
)
HSTS = ('Strict-Transport-Security', 'max-age=31536000')  # only over HTTPS; no includeSubDomains: not ours to say

_SCRIPT_TAG = re.compile(rb'<script(?=[\s>])', re.IGNORECASE)


def content_security_policy(nonce: str | None) -> str:
    """The policy; without a nonce (responses that are not pages) no inline script is allowed at all."""
    parts = []
    for name, sources in CSP_DIRECTIVES:
        if nonce is None:
            sources = sources.replace(" 'nonce-{nonce}'", '')
        parts.append(f'{name} {sources.format(nonce=nonce)}')
    return '; '.join(parts)


def add_nonce(html: bytes, nonce: str) -> bytes:
    return _SCRIPT_TAG.sub(b'<script nonce="' + nonce.encode() + b'"', html)


class SecurityHeaders:
    """Adds the headers to every HTTP response; pages (text/html) get the nonce in their scripts and policy."""

    def __init__(self, app: ASGIApp, https: bool = False) -> None:
        self.app = app
        self.static_headers = (*STATIC_HEADERS, HSTS) if https else STATIC_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':  # websockets and lifespan have no response headers to add
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _Responder(send, self.static_headers).send)


class _Responder:
    """One response: headers are added on its start; an HTML body is held until complete to add the nonce."""

    def __init__(self, send: Send, static_headers: Iterable[tuple[str, str]]) -> None:
        self._send = send
        self._static_headers = static_headers
        self._page_start: Message | None = None
        self._page_body = bytearray()

    async def send(self, message: Message) -> None:
        if message['type'] == 'http.response.start':
            await self._start(message)
        elif message['type'] == 'http.response.body' and self._page_start is not None:
            await self._collect_page(message)
        else:
            await self._send(message)

    async def _start(self, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        is_page = headers.get('content-type', '').startswith('text/html') and 'content-encoding' not in headers
        if is_page:
            self._page_start = message  # sent with the body, once the nonce is in both
            return
        self._add_headers(headers, nonce=None)
        await self._send(message)

    async def _collect_page(self, message: Message) -> None:
        self._page_body += message.get('body', b'')
        if message.get('more_body', False):
            return
        assert self._page_start is not None
        # let go of the page as it is sent: NiceGUI keeps each page's request, and with it this responder
        start, body, self._page_start, self._page_body = self._page_start, bytes(self._page_body), None, bytearray()
        nonce = secrets.token_urlsafe(18)
        headers = MutableHeaders(scope=start)
        if body:  # a HEAD response has no body but keeps the length the GET would have
            body = add_nonce(body, nonce)
            headers['content-length'] = str(len(body))
        self._add_headers(headers, nonce)
        await self._send(start)
        await self._send({'type': 'http.response.body', 'body': body, 'more_body': False})

    def _add_headers(self, headers: MutableHeaders, nonce: str | None) -> None:
        for name, value in self._static_headers:
            headers[name] = value
        headers['Content-Security-Policy'] = content_security_policy(nonce)
