"""The SPA root: one per browser document. It loads the browser module, builds the chrome that must outlive
a page, registers the global event handlers once, and routes to the sub pages."""

import logging

from nicegui import ui
from nicegui.events import GenericEventArguments
from pydantic import ValidationError

from voiceconnect.calls import CallError
from voiceconnect.clock import LoopClock
from voiceconnect.connection import Device, SignalsDropped
from voiceconnect.ratelimit import RateLimiter

from . import api, call, dashboard, login
from .chrome import Chrome
from .tab import current_tab, open_tab, restore

log = logging.getLogger('voiceconnect')
# rejected signals shown and logged per tab; beyond that a stream of bad ones only makes a line a minute
REJECTIONS_SHOWN_PER_MINUTE = 5
_rejections_shown: RateLimiter[str] = RateLimiter(REJECTIONS_SHOWN_PER_MINUTE, 60.0, LoopClock())

HEAD = """
<script src="/assets/voiceconnect.js"></script>
<style>.hidden-audio { display: none; }</style>
"""


async def root() -> None:
    client = ui.context.client
    tab = open_tab(client)
    ui.add_head_html(HEAD)
    ui.query('body').classes('bg-grey-1')
    Chrome(tab)
    ui.on('vc_signal', _on_signal)
    with ui.column().classes('w-full max-w-3xl mx-auto q-pa-md'):
        core = {'/login': login.page, '/': dashboard.page, '/call/{call_id}': call.page}
        ui.sub_pages({**api.routes, **core}).classes('w-full')  # extensions add pages, never replace ours
    await client.connected()
    try:
        name = await restore(tab)
        path = client.sub_pages_router.current_path
        if name is None and not path.startswith('/login'):
            ui.navigate.to(login.url(next_path=path))
    finally:
        tab.ready.set()


def _on_signal(event: GenericEventArguments) -> None:
    """A message from this document's browser module, checked by the core before anything happens."""
    device = current_tab().device
    if device is None:
        return
    try:
        device.signal(event.args)
    except SignalsDropped as error:  # the core logged it, and says so only once a minute
        ui.notify(str(error), type='warning')
    except (ValidationError, CallError) as error:
        _show_rejection(device, error.errors()[0]['msg'] if isinstance(error, ValidationError) else str(error))


def _show_rejection(device: Device, message: str) -> None:
    limited = _rejections_shown.hit(device.id)
    if limited is None:
        ui.notify(f'Call signaling rejected: {message}', type='warning')
        log.warning('⚠️ Rejected signal from %s: %s', device.user, message)
    elif limited.report:
        log.warning(
            '⚠️ Rate limited: rejected signals from %s (%d not shown; reported once a minute)',
            device.user,
            limited.refused,
        )
