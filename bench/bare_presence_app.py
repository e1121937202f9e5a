"""The floor for presence fan-out: a bare NiceGUI app that appends one label to every open page when someone
arrives (`/?name=<who>` opens a page and announces it). Run by bench/presence_load.py next to VoiceConnect."""

import os

from nicegui import app, ui

lists: dict[str, ui.column] = {}


@ui.page('/')
async def index(name: str = '') -> None:
    client = ui.context.client
    ui.label('Online now')
    people = ui.column()
    lists[client.id] = people
    client.on_delete(lambda: lists.pop(client.id, None))
    if name:
        await client.connected()
        for other_id, other in list(lists.items()):
            if other_id != client.id:
                with other:
                    ui.label(f'Call {name}')


@app.get('/healthz')
def healthz() -> dict[str, str]:
    return {'status': 'ok'}


ui.run(host='127.0.0.1', port=int(os.environ['VOICECONNECT_PORT']), show=False, reload=False, reconnect_timeout=25)
