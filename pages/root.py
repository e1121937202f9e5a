"""The SPA root: one per browser document. It loads the browser module, builds the chrome that must outlive
a page, registers the global event handlers once, and routes to the sub pages."""

from collections.abc import Callable
from typing import Any

from nicegui import ui
from nicegui.events import GenericEventArguments

from voiceconnect.connections.device import SignalRejected, SignalsDropped
from web.session import restore
from web.tabs import current_tab, open_tab, socket_came

from . import api, call, dashboard, login
from .chrome import Chrome

# The tab's icon: Material's `call` glyph as SVG, the header's logo (an emoji favicon is an empty box on a system
# without a colour-emoji font). NiceGUI serves it as a data: URL.
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#5898d4" d="M20.01 15.38c-1.23 0-2.42-.2'
    '-3.53-.56-.35-.12-.74-.03-1.01.24l-1.57 1.97c-2.83-1.35-5.48-3.9-6.89-6.83l1.95-1.66c.27-.28.35-.67.24-1.02-.37'
    '-1.11-.56-2.3-.56-3.53 0-.54-.45-.99-.99-.99H4.19C3.65 3 3 3.24 3 3.99 3 13.28 10.73 21 20.01 21c.71 0 .99-.63'
    '.99-1.18v-3.45c0-.54-.45-.99-.99-.99z"/></svg>'
)

HEAD = """
<script src="/assets/voiceconnect.js"></script>
<style>
.hidden-audio { display: none; }
.vc-speaking { display: none; }
body[data-vc-speaking~="local"] .vc-speaking-local { display: inline; }
body[data-vc-speaking~="remote"] .vc-speaking-remote { display: inline; }
.vc-speaking .q-icon { font-size: 1.25em; vertical-align: -0.25em; }
/* a group call's `<name> is speaking`, one per person: the browser module marks the one heard now */
.vc-peer-speaking:not([data-on]) { display: none; }
.vc-participants { list-style: none; }
/* there for screen readers (the live regions), not drawn */
.vc-sr-only { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.vc-say::before { content: attr(data-say); }
.vc-shortcuts th, .vc-shortcuts td { text-align: left; padding: 4px 12px 4px 0; }
/* NiceGUI fades a hovered link to 80 %: the brand's blue would fall below 4.5:1 contrast */
.vc-brand:hover, .vc-brand:active { opacity: 1; }
/* The header is one row. On a wide screen the account's controls sit in it (their box is left out of the layout;
   `order` keeps the row as it always was), on a narrow one they drop down below it from the `Menu` button. */
.q-btn.vc-menu-button { display: none; }
.vc-account { display: contents; }
.vc-brand { order: 0; }
.vc-signed-in { order: 1; }
.vc-missed { order: 2; }
.vc-dnd { order: 3; }
.vc-audio { order: 4; }
.vc-status { order: 5; }
.vc-switch { order: 6; }
.vc-log-out { order: 7; }
/* short notices show at the bottom: while push to talk's Talk bar is there, they stand above it, never over it */
body:has(#vc-ptt:not([hidden])) .q-notifications__list--bottom { bottom: 112px; }
@media (max-width: 1023.98px) {
  .nicegui-header.vc-header { flex-wrap: nowrap; gap: 8px; padding: 8px 8px 8px 12px; }
  .vc-header > * { order: 0; flex-shrink: 0; }
  .vc-header > .vc-brand { flex-shrink: 1; min-width: 0; }
  .vc-brand .text-h6 { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .q-btn.vc-menu-button { display: inline-flex; }
  .vc-account {
    display: none; position: absolute; top: 100%; right: 0; min-width: 240px; max-width: 100vw;
    flex-direction: column; align-items: flex-start; gap: 4px; padding: 12px 8px;
    background: white; border-radius: 0 0 4px 4px; box-shadow: 0 4px 12px rgba(0, 0, 0, 0.25);
  }
  .vc-account > * { order: 0; }
  .vc-account > .vc-signed-in { padding: 4px 16px 8px; color: #616161; }
  .vc-account > .vc-dnd { padding: 4px 8px; }
  body[data-vc-menu="open"] .vc-account { display: flex; }
}
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
