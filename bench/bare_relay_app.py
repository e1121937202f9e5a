"""The floor for relaying signaling: bare python-socketio (ASGI, uvicorn) that passes each `relay` message from one
client to another, nothing else. Run by bench/relay_cost.py next to VoiceConnect's relay."""

import os
from typing import Any

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode='asgi')
peers: dict[str, str] = {}  # a client's name → its sid


@sio.on('hello')
async def hello(sid: str, name: str) -> None:
    peers[name] = sid


@sio.on('relay')
async def relay(sid: str, message: dict[str, object]) -> None:
    await sio.emit('relayed', message, to=peers[str(message['to'])])


async def healthz(scope: dict[str, object], receive: object, send: Any) -> None:
    """Anything but the socket answers 200: the harness waits for /healthz."""
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': b'ok'})


uvicorn.run(
    socketio.ASGIApp(sio, other_asgi_app=healthz),
    host='127.0.0.1',
    port=int(os.environ['VOICECONNECT_PORT']),
    log_level='warning',
)
