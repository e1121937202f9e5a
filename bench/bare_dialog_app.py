"""The floor for ring latency: a bare NiceGUI app where a click in one client opens a dialog in another.

Run by bench/ring_voice.py next to VoiceConnect, in the same run, so both are measured the same way.
`/?rows=N` adds N list rows like the dashboard's (8 elements each): NiceGUI re-renders every element of a
page for any update, so a page's size is part of its latency, and `rows=5` matches the callee's dashboard
(about 50 elements with the header, the hidden call dialog and the audio elements).
"""

import os

from nicegui import app, ui

dialogs: dict[str, ui.dialog] = {}


@ui.page('/')
def index(rows: int = 0) -> None:
    client = ui.context.client
    with ui.dialog().props('persistent') as dialog, ui.card():
        ui.label('Incoming call')
        ui.button('Close', on_click=lambda: dialog.close())
    dialogs[client.id] = dialog
    client.on_delete(lambda: dialogs.pop(client.id, None))

    def ring_others() -> None:
        for other_id, other in list(dialogs.items()):
            if other_id != client.id:
                other.open()

    ui.button('Ring', on_click=ring_others)
    with ui.list():
        for row in range(rows):
            with ui.item(), ui.item_section(), ui.row():
                ui.avatar(str(row))
                ui.label(f'person {row}')
                ui.badge('busy')
                ui.button(f'Call person {row}')


@app.get('/healthz')
def healthz() -> dict[str, str]:
    return {'status': 'ok'}


ui.run(host='127.0.0.1', port=int(os.environ['VOICECONNECT_PORT']), show=False, reload=False)
