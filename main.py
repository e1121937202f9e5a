"""VoiceConnect: `python main.py` serves the app with the settings from VOICECONNECT_* / `.env`."""

import logging
import os
import sys

from voiceconnect.settings import Settings, redis_problem

settings = Settings()
# NiceGUI reads its storage settings at import time: its files in DATA_DIR with the database, or, with several
# processes, its user and tab storage in the same Redis (a sign-in made on one process is known to all)
os.environ.setdefault('NICEGUI_STORAGE_PATH', str((settings.data_dir / 'nicegui').resolve()))
if settings.redis_url:
    if (problem := redis_problem(settings.redis_url)) is not None:
        print(f'VoiceConnect cannot start: VOICECONNECT_REDIS_URL: {problem}', file=sys.stderr)
        sys.exit(2)
    os.environ.setdefault('NICEGUI_REDIS_URL', settings.redis_url)
    os.environ.setdefault('NICEGUI_REDIS_KEY_PREFIX', 'vc:nicegui:')

from nicegui import ui  # noqa: E402

import web  # noqa: E402
from pages import root  # noqa: E402
from voiceconnect.backend import Backend  # noqa: E402
from web.nicegui_fixes import UntestedNiceGUI  # noqa: E402

# with several processes, each line says which one wrote it
line = f'[{settings.instance_name}] %(message)s' if settings.redis_url else '%(message)s'
logging.basicConfig(level=logging.INFO, format=line, stream=sys.stdout, force=True)
try:
    web.install(Backend(settings))
except UntestedNiceGUI as error:
    print(f'VoiceConnect cannot start: {error}', file=sys.stderr)
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
        session_middleware_kwargs={'https_only': settings.https, 'same_site': 'lax'},
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
        favicon='📞',
    )
