"""Call actions from buttons: a refusal is shown to the person, never lost without a word."""

from collections.abc import Awaitable
from typing import TypeVar

from nicegui import ui

from voiceconnect.calls import CallError

T = TypeVar('T')


async def attempt(action: Awaitable[T]) -> T | None:
    """Await a call action; if the server refuses it (CallError), say why and return None."""
    try:
        return await action
    except CallError as error:
        ui.notify(str(error), type='warning')
        return None
