"""The sign-in gate: a browser with no account signed in lands on /login and comes back where it was going."""

from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from nicegui import app
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from .core import backend
from .nicegui_fixes import browser_session
from .session import ACCOUNTS

RESOURCES = ('/_nicegui', '/assets', '/healthz', '/favicon', '/session')  # not pages: no sign-in, no id renewal
OPEN_PATHS = ('/login', *RESOURCES)


class SignInGate(BaseHTTPMiddleware):
    """Which account a *tab* is stays a question for the socket (tab storage); this only turns away browsers
    that have none at all, before any page is built for them."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if not path.startswith(RESOURCES):
            # NiceGUI runs start-up handlers as tasks and serves meanwhile: no page before the database is there
            await backend().start()
            await browser_session.fresh_id_if_retired(request)
        if not path.startswith(OPEN_PATHS) and not app.storage.user.get(ACCOUNTS):
            target = path + (f'?{request.url.query}' if request.url.query else '')
            return RedirectResponse('/login' if target == '/' else f'/login?next={quote(target, safe="")}')
        return await call_next(request)
