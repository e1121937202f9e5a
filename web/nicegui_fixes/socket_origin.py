"""Only the app's own pages may open its socket: a foreign `Origin` is refused (NiceGUI 3.18 `nicegui.py`).

NiceGUI builds its socket.io server with `cors_allowed_origins='*'`, with credentials: any website a signed-in
person visits could open the app's socket in their browser, with their cookie (a page of its own, a program socket
with a token it learned). Browsers send `Origin` with every websocket and cross-site request; python-engineio
checks it against what its server allows.

`install` allows one origin: the app's own, as the request itself names it: the scheme the connection came in on
(uvicorn's, which trusts `X-Forwarded-Proto` from `FORWARDED_ALLOW_IPS`) or a proxy's `X-Forwarded-Proto`, and
the `Host` header or a proxy's `X-Forwarded-Host`; a browser cannot set those, so a hostile page cannot either.
A request without `Origin` (a program: python-socketio's client sends none) is not a browser's, and is let in
as before; `Origin: null` (a sandboxed frame, a file) is refused.

Still needed upstream while `test_nicegui_alone_lets_any_origin_open_the_socket` (tests/web/test_nicegui_fixes.py)
passes.
"""

from collections.abc import Mapping
from typing import Any

from nicegui import core

upstream: object = core.sio.eio.cors_allowed_origins  # NiceGUI's choice, for the test that the fix is still needed
SCHEMES = {'ws': 'http', 'wss': 'https', 'http': 'http', 'https': 'https'}


def install() -> None:
    core.sio.eio.cors_allowed_origins = same_origin


def _first(value: object) -> str | None:
    """A forwarded header's first value (proxies append theirs)."""
    return (value.split(',')[0].strip() or None) if isinstance(value, str) else None


def own_origins(environ: Mapping[str, Any]) -> set[str]:
    """The origins the request's own page would have."""
    scope = environ.get('asgi.scope')
    scheme = scope.get('scheme') if isinstance(scope, dict) else None
    schemes = {SCHEMES.get(str(scheme), 'http'), _first(environ.get('HTTP_X_FORWARDED_PROTO'))}
    hosts = {_first(environ.get('HTTP_HOST')), _first(environ.get('HTTP_X_FORWARDED_HOST'))}
    return {f'{scheme}://{host}' for scheme in schemes if scheme for host in hosts if host}


def same_origin(origin: str | None, environ: Mapping[str, Any]) -> bool:
    """python-engineio asks this for every request that carries an `Origin`."""
    return origin is not None and origin in own_origins(environ)
