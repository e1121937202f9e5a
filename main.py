"""VoiceConnect: `python main.py` serves the app with the settings from VOICECONNECT_* / `.env`."""

import logging
import os
import sys

from voiceconnect.startup import CannotStart, checked_settings, exit_line, keep_data_private

try:  # every bad setting, a busy port, an unwritable data dir, a bad certificate: one line, exit status 2
    # (NiceGUI's simulated `User` of the page tests runs this file without serving anything)
    settings = checked_settings(listening='NICEGUI_USER_SIMULATION' not in os.environ)
except CannotStart as error:
    print(exit_line(error), file=sys.stderr)
    sys.exit(2)
# NiceGUI reads its storage settings at import time: its files in DATA_DIR with the database, or, with several
# processes, its user and tab storage in the same Redis (a sign-in made on one process is known to all)
os.environ.setdefault('NICEGUI_STORAGE_PATH', str((settings.data_dir / 'nicegui').resolve()))
if settings.redis_url:
    os.environ.setdefault('NICEGUI_REDIS_URL', settings.redis_url)
    os.environ.setdefault('NICEGUI_REDIS_KEY_PREFIX', 'vc:nicegui:')

import uvicorn.config
from nicegui import ui

import web
from pages import root
from voiceconnect import logs
from voiceconnect.backend import Backend
from web.nicegui_fixes import UntestedNiceGUI

keep_data_private(settings.data_dir)  # session tokens, password hashes: 0600 files in a 0700 dir
# with several processes, each line says which one wrote it
logs.configure(settings.log_format, settings.instance_name, name_the_instance=settings.redis_url is not None)
try:
    web.install(Backend(settings))
except UntestedNiceGUI as error:
    print(exit_line(error), file=sys.stderr)
    sys.exit(2)

if __name__ in {'__main__', '__mp_main__'}:
    scheme = 'https' if settings.https else 'http'
    logging.getLogger('voiceconnect').info('🚀 VoiceConnect on %s://%s:%d', scheme, settings.host, settings.port)
    ui.run(
        root.root,
        title='VoiceConnect',
        host=settings.host,
        port=settings.port,
        storage_secret=settings.effective_storage_secret,
        session_middleware_kwargs=web.session_cookie(settings),
        # a tab whose socket dropped keeps its page for as long as its user stays online: no forced reloads
        reconnect_timeout=settings.reconnect_grace_s + 5,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        uvicorn_logging_level='warning',
        # no permessage-deflate: its zlib state costs about 300 KB per open tab, and the socket carries small
        # messages (the pages themselves come over HTTP, gzipped)
        ws_per_message_deflate=False,
        show=False,
        reload=False,
        favicon=root.FAVICON,
        language='en-US',  # <html lang>: a screen reader speaks the page in the right language
        show_welcome_message=settings.log_format == 'text',  # NiceGUI prints it: not a JSON line
        # JSON: uvicorn's own lines (warnings, errors) go through the same JSON handler instead of its text one
        # text: uvicorn's own handlers, which escape and bound each message as ours do (voiceconnect/logs.py)
        log_config=None if settings.log_format == 'json' else logs.guarded_config(uvicorn.config.LOGGING_CONFIG),
    )
