"""Where the web layer finds the core: the `Backend` lives on the FastAPI app's state, set once at install."""

from nicegui import app

from voiceconnect.backend import Backend


def set_backend(backend: Backend) -> None:
    app.state.backend = backend


def backend() -> Backend:
    found = getattr(app.state, 'backend', None)
    assert isinstance(found, Backend), 'web.install(backend) runs before the app serves anything'
    return found
