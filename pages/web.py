"""HTTP-side wiring: static assets, `/healthz`, the sign-in gate, security headers, and the backend's start and
stop."""

from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from nicegui import app, core
from starlette.middleware.base import BaseHTTPMiddleware

from voiceconnect.backend import Backend

from . import browser_session, socket_guard
from .security_headers import SecurityHeaders
from .tab import ACCOUNTS, set_backend

ASSETS = Path(__file__).resolve().parents[1] / 'assets'
RESOURCES = ('/_nicegui', '/assets', '/healthz', '/favicon', '/session')  # not pages: no sign-in, no id renewal
OPEN_PATHS = ('/login', *RESOURCES)


class SignInGate(BaseHTTPMiddleware):
    """A browser with no account signed in lands on /login and comes back to where it was going afterwards.

    Which account a *tab* is stays a question for the socket (tab storage); this only turns away browsers
    that have none at all, before any page is built for them.
    """

    async def dispatch(self, request: Request, call_next):  # type: ignore[no-untyped-def]
        path = request.url.path
        if not path.startswith(RESOURCES):
            await browser_session.fresh_id_if_retired(request)
        if not path.startswith(OPEN_PATHS) and not app.storage.user.get(ACCOUNTS):
            target = path + (f'?{request.url.query}' if request.url.query else '')
            return RedirectResponse('/login' if target == '/' else f'/login?next={quote(target, safe="")}')
        return await call_next(request)


def notice_dead_connections_quickly() -> None:
    """NiceGUI derives the socket's ping from reconnect_timeout (20 s / 10 s with our grace): a dead network would
    go unnoticed for half a minute. Ping every 5 s and allow 5 s for the answer, so the peer sees
    "Reconnecting…" within about 10 s and the grace period starts then."""
    core.sio.eio.ping_interval = 5
    core.sio.eio.ping_timeout = 5


def install(backend: Backend) -> None:
    set_backend(backend)
    app.add_static_files('/assets', ASSETS)
    app.add_middleware(SignInGate)
    # added last, so outside the gate: its redirects get the headers too
    app.add_middleware(SecurityHeaders, https=backend.settings.https)
    browser_session.install()
    socket_guard.install()  # a page's socket messages only from that page's socket
    app.on_startup(notice_dead_connections_quickly)  # runs after NiceGUI's own start-up has set its values
    app.on_startup(backend.start)
    app.on_shutdown(backend.stop)

    @app.get('/healthz')
    def healthz() -> JSONResponse:
        if not backend.ready:
            return JSONResponse({'status': 'starting'}, status_code=503)
        return JSONResponse({'status': 'ok'})
