"""The floor for what an anonymous request costs: a bare NiceGUI app with user storage (a storage secret), in
Redis when `VOICECONNECT_REDIS_URL` is set (NiceGUI's own `NICEGUI_REDIS_URL`), else in files. One page, `/`.
Run by bench/abuse.py next to VoiceConnect."""

import os

if redis_url := os.environ.get('VOICECONNECT_REDIS_URL'):  # NiceGUI reads its storage settings at import time
    os.environ['NICEGUI_REDIS_URL'] = redis_url
    os.environ['NICEGUI_REDIS_KEY_PREFIX'] = 'bare:'
os.environ.setdefault('NICEGUI_STORAGE_PATH', os.path.join(os.environ['VOICECONNECT_DATA_DIR'], 'nicegui'))

from nicegui import app, ui


@ui.page('/')
def index() -> None:
    ui.label('Sign in')
    ui.input('Username')
    ui.input('Password', password=True)
    ui.button('Sign in')


@app.get('/healthz')
def healthz() -> dict[str, str]:
    return {'status': 'ok'}


ui.run(
    host='127.0.0.1',
    port=int(os.environ['VOICECONNECT_PORT']),
    show=False,
    reload=False,
    storage_secret='abuse-bench-secret',
)
