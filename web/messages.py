"""Voicemail over HTTP: `GET /messages/<id>` serves a message's sound to its callee, and `install` sets the recorder
of messages (voiceconnect/programs/voicemail.py) on the switchboard.

A message is private: it is served only to a browser that has its callee signed in with a session the store still
holds (the same check a tab's attach makes), and to everyone else, signed in or not, the answer is the same 404 an
id that is nobody's gets, so ids reveal nothing. No shared cache may keep it (`Cache-Control: private, no-store`).
"""

from fastapi import Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from nicegui import app

from voiceconnect.programs.voicemail import Voicemail
from voiceconnect.settings import Settings

from .core import backend
from .program_socket import programs
from .session import ACCOUNTS

ROUTE = '/messages/{message_id}'
PREFIX = '/messages/'  # not a page: the sign-in gate leaves it to this route's own check
MAX_ID = 40
NOT_FOUND = PlainTextResponse('Not Found', status_code=404, headers={'Cache-Control': 'no-store'})


async def message_sound(request: Request, message_id: str) -> Response:
    await backend().start()
    if len(message_id) > MAX_ID:
        return NOT_FOUND
    accounts: dict[str, str] = app.storage.user.get(ACCOUNTS) or {}
    row = await backend().store.get_message(message_id)
    token = accounts.get(row.callee) if row is not None else None
    if row is None or token is None or await backend().accounts.resume(token) != row.callee:
        return NOT_FOUND
    found = await backend().people.message(message_id, row.callee)  # (and not an earlier account's of the name)
    if found is None or not found.path.is_file():
        return NOT_FOUND
    headers = {'Cache-Control': 'private, no-store'}
    return FileResponse(found.path, media_type='audio/webm', headers=headers)


def install(settings: Settings) -> None:
    """Idempotent: tests build the app more than once in a process."""
    mailbox = backend().people.mailbox
    backend().switchboard.voicemail = Voicemail(programs(), mailbox, settings.voicemail_max_s) if mailbox else None
    app.add_api_route(ROUTE, message_sound, methods=['GET'])
