"""Call actions from buttons: a refusal is shown to the person, never lost without a word."""

from collections.abc import Awaitable
from typing import TypeVar

from nicegui import ui
from nicegui.events import GenericEventArguments

from voiceconnect.calls import CallError

T = TypeVar('T')


async def attempt(action: Awaitable[T]) -> T | None:
    """Await a call action; if the server refuses it (CallError), say why and return None."""
    try:
        return await action
    except CallError as error:
        ui.notify(str(error), type='warning')
        return None


def first_arg(event: GenericEventArguments) -> object:
    """The value a browser component emitted (`$emit('call', name)` arrives as [name] or name)."""
    return event.args[0] if isinstance(event.args, list) and event.args else event.args
