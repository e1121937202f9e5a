"""NiceGUI's python-socketio server, for namespaces of our own (web/program_socket.py).

NiceGUI 3.18 creates one `socketio.AsyncServer` and keeps it as `nicegui.core.sio`, which is not documented API;
what we do with it (`register_namespace`) is python-socketio's public API. NiceGUI serves it under
`/_nicegui_ws/socket.io`.
"""

import socketio
from nicegui import core

SOCKETIO_PATH = '/_nicegui_ws/socket.io'


def socketio_server() -> socketio.AsyncServer:
    return core.sio
