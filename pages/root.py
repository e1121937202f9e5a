"""The SPA root: one per browser document. It loads the browser module, builds the chrome that must outlive
a page, registers the global event handlers once, and routes to the sub pages."""

from collections.abc import Callable
from typing import Any

from nicegui import ui
from nicegui.events import GenericEventArguments

from voiceconnect.device import SignalRejected, SignalsDropped
from web.session import restore
from web.tabs import current_tab, open_tab, socket_came

from . import api, call, dashboard, login
from .chrome import Chrome

HEAD = """
<script src="/assets/voiceconnect.js"></script>
<style>
.hidden-audio { display: none; }
.vc-speaking { display: none; }
body[data-vc-speaking~="local"] .vc-speaking-local { display: inline; }
body[data-vc-speaking~="remote"] .vc-speaking-remote { display: inline; }
</style>
"""


async def root() -> None:
    client = ui.context.client
    tab = open_tab(client)
    ui.add_head_html(HEAD)
    ui.query('body').classes('bg-grey-1')
    Chrome(tab)
    ui.on('vc_signal', _on_signal)
    with ui.column().classes('w-full max-w-3xl mx-auto q-pa-md'):
        core: dict[str, Callable[..., Any]] = {'/login': login.page, '/': dashboard.page, '/call/{call_id}': call.page}
        ui.sub_pages({**api.routes, **core}).classes('w-full')  # extensions add pages, never replace ours
    try:
        if not await socket_came(tab):
            return  # a page load no browser followed (curl, a crawler): let go quietly
        name = await restore(tab)
        path = client.sub_pages_router.current_path
        if name is None and not path.startswith('/login'):
            ui.navigate.to(login.url(next_path=path))
    finally:
        tab.ready.set()


async def _on_signal(event: GenericEventArguments) -> None:
    """A message from this document's browser module, checked by the core before anything happens."""
    device = current_tab().device
    if device is None:
        return
    try:
        await device.signal(event.args)
    except SignalsDropped as error:  # the core logged it, and says so only once a minute
        ui.notify(str(error), type='warning')
    except SignalRejected as error:
        if error.shown:
            ui.notify(f'Call signaling rejected: {error}', type='warning')
