"""The floor for ring latency: a bare NiceGUI app where a click in one client opens a dialog in another.

Run by bench/ring_voice.py next to VoiceConnect, in the same run, so both are measured the same way.
"""

import os

from nicegui import app, ui

dialogs: dict[str, ui.dialog] = {}


@ui.page('/')
def index() -> None:
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


@app.get('/healthz')
def healthz() -> dict[str, str]:
    return {'status': 'ok'}


ui.run(host='127.0.0.1', port=int(os.environ['VOICECONNECT_PORT']), show=False, reload=False)
