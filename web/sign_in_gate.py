"""The sign-in gate: a browser with no account signed in lands on /login and comes back where it was going.

A plain ASGI middleware: starlette's BaseHTTPMiddleware adds a task and a stream per request, and NiceGUI keeps
each page's request for as long as the page is open.
"""

from urllib.parse import quote

from nicegui import app
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .core import backend
from .nicegui_fixes import browser_session
from .program_socket import API_ROUTES
from .session import ACCOUNTS

# not pages: no sign-in, no id renewal (`/api/`: programs, which sign in with a name and password of their own)
# `/messages/`: a message's sound, which answers 404 to anyone but its callee (web/messages.py)
RESOURCES = ('/_nicegui', '/assets', '/healthz', '/metrics', '/favicon', '/session', '/api/', '/messages/')
OPEN_PATHS = ('/login', *RESOURCES)


class SignInGate:
    """Which account a *tab* is stays a question for the socket (tab storage); this only turns away browsers
    that have none at all, before any page is built for them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        path: str = scope['path']
        if path.startswith('/api/') and path not in API_ROUTES:  # no page to build for a made-up API path
            await PlainTextResponse('Not Found', status_code=404)(scope, receive, send)
            return
        if not path.startswith(RESOURCES):
            # NiceGUI runs start-up handlers as tasks and serves meanwhile: no page before the database is there
            await backend().start()
            await browser_session.fresh_id_if_retired(Request(scope))
        if not path.startswith(OPEN_PATHS) and not app.storage.user.get(ACCOUNTS):
            query = scope.get('query_string', b'').decode()
            target = path + (f'?{query}' if query else '')
            redirect = RedirectResponse('/login' if target == '/' else f'/login?next={quote(target, safe="")}')
            await redirect(scope, receive, send)
            return
        await self.app(scope, receive, send)
