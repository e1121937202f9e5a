"""Notice a dead network within about ten seconds, not half a minute (NiceGUI 3.18 `_startup`).

NiceGUI sets the socket's ping from `reconnect_timeout` at start-up (interval 0.8 times it, timeout 0.4 times).
VoiceConnect keeps `reconnect_timeout` above the grace period (25 s by default) so a blip never forces a page
reload, which made the ping 20 s with a 10 s timeout: a tab whose network died went unnoticed for up to half a
minute, and its peer saw no "Reconnecting…". We ping every 5 s and allow 5 s for the answer instead.
"""

from nicegui import app, core

PING_INTERVAL_S = 5
PING_TIMEOUT_S = 5


def ping_quickly() -> None:
    core.sio.eio.ping_interval = PING_INTERVAL_S
    core.sio.eio.ping_timeout = PING_TIMEOUT_S


def install() -> None:
    app.on_startup(ping_quickly)  # NiceGUI runs its own start-up first, so this comes after it set its values
