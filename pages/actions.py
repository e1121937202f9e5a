"""Call actions from buttons: a refusal is shown to the person, never lost without a word."""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from nicegui import ui
from nicegui.events import GenericEventArguments

from voiceconnect.calls.machine import CallError
from voiceconnect.calls.views import CallView
from voiceconnect.connections.device import Device

T = TypeVar('T')

CALLER_PAGE_DELAY_S = 0.02  # the callee's ring leaves the server before the caller's page is built


async def attempt(action: Awaitable[T]) -> T | None:
    """Await a call action; if the server refuses it (CallError), say why and return None."""
    try:
        return await action
    except CallError as error:
        ui.notify(str(error), type='warning')
        return None


async def place_call(device: Device, name: str) -> None:
    """Call `name` and show the call's page (a `Call <name>` or `Call back <name>` button, wherever it is)."""
    view = await attempt(device.call_user(name))
    if view is not None:
        show_call_page(view)


async def leave_message(device: Device, call_id: str) -> None:
    """After a call nobody answered: call the recorder of messages and show that call's page (`Recording…`)."""
    view = await attempt(device.leave_message(call_id))
    if view is not None:
        show_call_page(view)


def show_call_page(view: CallView) -> None:
    client = ui.context.client

    def show_call_page() -> None:
        with client:
            ui.navigate.to(f'/call/{view.id}')

    asyncio.get_running_loop().call_later(CALLER_PAGE_DELAY_S, show_call_page)


def first_arg(event: GenericEventArguments) -> object:
    """The value a browser component emitted (`$emit('call', name)` arrives as [name] or name)."""
    return event.args[0] if isinstance(event.args, list) and event.args else event.args
