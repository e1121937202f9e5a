"""The web layer: NiceGUI and HTTP around the core. `install(backend)` wires static assets, `/healthz`, the
sign-in gate, the security headers, the NiceGUI fixes, and the backend's start and stop.

pages/ builds the UI on top of this layer (tabs, sessions); voiceconnect/ knows nothing of either.
"""

import logging
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse
from nicegui import app

from voiceconnect.backend import Backend
from voiceconnect.settings import Settings

from . import accessibility, graceful_stop, messages, metrics, nicegui_fixes, program_socket
from .core import set_backend
from .security_headers import SecurityHeaders
from .sign_in_gate import SignInGate

log = logging.getLogger('voiceconnect')
ASSETS = Path(__file__).resolve().parents[1] / 'assets'
SESSION_COOKIE = 'session'  # starlette's name, kept for plain HTTP (loopback, tests)
SECURE_SESSION_COOKIE = '__Host-session'  # the browser keeps it only if Secure, Path=/ and without Domain


def session_cookie(settings: Settings) -> dict[str, Any]:
    """The session cookie NiceGUI's SessionMiddleware sets: HttpOnly and SameSite=Lax always; over HTTPS (served
    here or by a TLS proxy in front, BEHIND_TLS_PROXY) also Secure and `__Host-` prefixed, so no other site or
    subdomain can set or overwrite it. It lasts as long as the longest session may (SESSION_MAX_AGE_S)."""
    secure = settings.browsers_use_https
    return {
        'session_cookie': SECURE_SESSION_COOKIE if secure else SESSION_COOKIE,
        'https_only': secure,
        'same_site': 'lax',
        'path': '/',
        'max_age': int(settings.session_max_age_s),
    }


def install(backend: Backend) -> None:
    nicegui_fixes.install(backend.settings.redis_timeout_s, backend.settings.redis_pool_size)
    nicegui_fixes.socket_backpressure.set_bound(backend.settings.outgoing_queue_max_bytes)
    set_backend(backend)
    accessibility.install()
    app.add_static_files('/assets', ASSETS)
    program_socket.install(backend.settings.sound_test)  # programs' way in (the Python voice client), Sound test
    messages.install(backend.settings)  # voicemail: the recorder, and GET /messages/<id>
    app.add_middleware(SignInGate)
    # added last, so outside the gate: its redirects get the headers too
    app.add_middleware(SecurityHeaders, https=backend.settings.browsers_use_https)
    app.on_startup(backend.start)
    app.on_startup(lambda: graceful_stop.install(backend))
    metrics.install(backend)

    async def stop() -> None:  # SIGTERM or Ctrl-C: uvicorn stops serving, then this runs
        if not backend.ready:
            return
        await backend.stop()
        log.info('🛑 VoiceConnect stopped (%s)', 'calls go on in Redis' if backend.shared else 'calls ended')

    app.on_shutdown(stop)

    @app.get('/healthz')
    def healthz() -> JSONResponse:
        instance = backend.settings.instance_name
        if not backend.ready:
            return JSONResponse({'status': 'starting', 'instance': instance}, status_code=503)
        if not backend.healthy:  # its Redis is away: a balancer sends new browsers elsewhere meanwhile
            return JSONResponse({'status': 'redis unreachable', 'instance': instance}, status_code=503)
        return JSONResponse({'status': 'ok', 'instance': instance})
