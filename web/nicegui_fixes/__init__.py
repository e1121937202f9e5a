"""Workarounds of NiceGUI internals, all in this package, each guarded by the version it was written for.

Every module here says which upstream behaviour it fixes and names the test that shows the behaviour is still
there upstream (that test fails once NiceGUI changes it, and the fix can go):

- `resync`: a reconnecting browser got missed updates in the wrong order (tests/web/test_resync.py);
- `socket_guard`: a socket could act for any page whose client id it knew, malformed frames raised
  (tests/web/test_socket_guard.py);
- `session_binding`: any socket could handshake for any page whose client and tab ids it knew, also through the
  connect URL past socket_guard (tests/web/test_nicegui_fixes.py);
- `browser_session`: a browser's storage id never changes, so a copied cookie outlived Log out
  (tests/web/test_nicegui_fixes.py);
- `socket_ping`: the socket's ping follows reconnect_timeout, so a dead network went unnoticed for half a minute
  (tests/web/test_nicegui_fixes.py);
- `redis_storage`: with Redis every browser id (one per cookie-less request) and every tab held Redis connections
  of its own, and their commands no time-out (tests/web/test_nicegui_fixes.py);
- `socket_origin`: any website could open the app's socket with its visitor's cookie (tests/web/test_nicegui_fixes.py);
- `socket_backpressure`: python-engineio queued without bound for a client that does not read
  (tests/web/test_socket_backpressure.py);
- `page_elements`: the simulated user finds a custom element's text only through a private hook, and an element of
  any tag with a text needs a deep mixin (tests/web/test_nicegui_fixes.py).

They patch internals of exactly `TESTED_NICEGUI` (and `socket_backpressure` of python-engineio's
`TESTED_ENGINEIO`); `install` refuses to run on any other version rather than patch code it has never seen.
"""

import nicegui

from voiceconnect.settings import Settings

from . import (
    browser_session,
    redis_storage,
    resync,
    session_binding,
    socket_backpressure,
    socket_guard,
    socket_origin,
    socket_ping,
)

TESTED_NICEGUI = '3.18.0'
REDIS_TIMEOUT_S: float = Settings.model_fields['redis_timeout_s'].default
REDIS_POOL_SIZE: int = Settings.model_fields['redis_pool_size'].default


class UntestedNiceGUI(RuntimeError):
    """The installed NiceGUI (or python-engineio, see socket_backpressure) is not the one the fixes were written and
    tested for."""


def check_version(installed: str | None = None) -> None:
    installed = installed or nicegui.__version__
    if installed != TESTED_NICEGUI:
        raise UntestedNiceGUI(
            f'NiceGUI {installed} is installed, but VoiceConnect patches internals of NiceGUI {TESTED_NICEGUI} '
            f'(web/nicegui_fixes): install nicegui=={TESTED_NICEGUI} with ./scripts/bootstrap.sh, '
            'or check each fix against the new version first.'
        )


def install(redis_timeout_s: float = REDIS_TIMEOUT_S, redis_pool_size: int = REDIS_POOL_SIZE) -> None:
    """Check the version, then apply every fix (idempotent: tests build the app more than once). The Redis
    settings are those of NiceGUI's storage (REDIS_TIMEOUT_S, REDIS_POOL_SIZE), when it is in Redis."""
    check_version()
    socket_backpressure.check_version()
    resync.install()
    socket_guard.install()
    session_binding.install()
    browser_session.install()
    socket_ping.install()
    redis_storage.install(redis_timeout_s, redis_pool_size)
    socket_origin.install()
    socket_backpressure.install()
