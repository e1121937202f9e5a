"""A browser that reconnects after missing messages ends up showing the page as it is now.

The scenario is the one that froze call pages after network blips: the page was rebuilt once while the
server still thought the socket was alive (those messages went into a dead socket and are in the history),
and rebuilt again after it noticed (those updates are pending). NiceGUI's own rewind sends the pending
updates first and the older history on top of them; the browser keeps showing the first rebuild.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from nicegui import core
from nicegui.outbox import Outbox

from web.nicegui_fixes import resync


class FakeElement:
    def __init__(self, element_id: int, text: str = '', children: tuple[int, ...] = ()) -> None:
        self.id = element_id
        self.text = text
        self.children = list(children)
        self.component = None

    def _to_dict(self) -> dict[str, Any]:
        return {'text': self.text, 'children': list(self.children)}


class FakeClient:
    id = 'client'
    has_socket_connection = True
    page = SimpleNamespace(resolve_reconnect_timeout=lambda: 25.0)

    def __init__(self) -> None:
        self.elements: dict[int, FakeElement] = {}

    def check_existence(self) -> None:
        pass

    def add(self, element: FakeElement, outbox: Outbox) -> FakeElement:
        self.elements[element.id] = element
        outbox.enqueue_update(element)  # type: ignore[arg-type]
        return element

    def remove(self, element: FakeElement, outbox: Outbox) -> None:
        del self.elements[element.id]
        outbox.enqueue_delete(element)  # type: ignore[arg-type]


class Browser:
    """What nicegui.js does with the messages: skip old ids, apply updates, run the rest in order."""

    def __init__(self) -> None:
        self.next_message_id = 0
        self.elements: dict[int | str, dict[str, Any]] = {}  # by element id (a string once through JSON)
        self.messages: list[str] = []
        self.online = True

    def receive(self, kind: str, data: dict[str, Any]) -> None:
        if not self.online or data['_id'] < self.next_message_id:
            return
        self.next_message_id = data['_id'] + 1
        if kind == 'update':
            for element_id, element in data.items():
                if element_id == '_id':
                    continue
                if element is None:
                    self.elements.pop(element_id, None)
                else:
                    self.elements[element_id] = element
        else:
            self.messages.append(data['code'])

    def shown(self, element_id: int = 0) -> list[str]:
        element = self.elements.get(element_id)
        if element is None:
            return []
        texts = [element['text']] if element['text'] else []
        return texts + [text for child in element['children'] for text in self.shown(child)]


@contextlib.asynccontextmanager
async def socket_to(browser: Browser, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    async def emit(kind: str, data: dict[str, Any], room: str) -> None:
        browser.receive(kind, dict(data))

    def fail(error: Exception) -> None:
        raise error

    monkeypatch.setattr(core, 'sio', SimpleNamespace(emit=emit, eio=SimpleNamespace(ping_interval=5, ping_timeout=5)))
    monkeypatch.setattr(core, 'air', None)
    monkeypatch.setattr(core, 'loop', asyncio.get_running_loop())  # the outbox starts its send loop right away
    monkeypatch.setattr(
        core, 'app', SimpleNamespace(config=SimpleNamespace(message_history_length=1000), handle_exception=fail)
    )
    yield


async def flush() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def page_after_blip(monkeypatch: pytest.MonkeyPatch, rewind: Callable[[Outbox, int], None]) -> Browser:
    browser = Browser()
    async with socket_to(browser, monkeypatch):
        client = FakeClient()
        outbox = Outbox(client)  # type: ignore[arg-type]
        try:
            page = client.add(FakeElement(0, children=(1,)), outbox)
            timer = client.add(FakeElement(1, '0:03'), outbox)
            await flush()
            assert browser.shown() == ['0:03']

            browser.online = False  # the network is gone; the server has not noticed yet
            client.remove(timer, outbox)  # first rebuild (the peer went away)
            page.children = [2]
            client.add(FakeElement(2, '0:05 · Reconnecting…'), outbox)
            outbox.enqueue_update(page)  # type: ignore[arg-type]
            outbox.enqueue_message('run_javascript', {'code': 'vc.sync(1)'}, client.id)
            await flush()

            client.has_socket_connection = False  # noticed: updates now wait in the outbox
            client.remove(client.elements[2], outbox)  # second rebuild (the peer is back)
            page.children = [3]
            client.add(FakeElement(3, '0:12'), outbox)
            outbox.enqueue_update(page)  # type: ignore[arg-type]
            outbox.enqueue_message('run_javascript', {'code': 'vc.sync(2)'}, client.id)
            await flush()

            browser.online = True  # the browser reconnects, asking for what it missed
            rewind(outbox, browser.next_message_id)
            client.has_socket_connection = True
            await asyncio.sleep(0.2)  # the outbox loop polls every 0.1 s while disconnected
        finally:
            outbox.stop()
            await asyncio.sleep(0.15)
    return browser


async def test_a_reconnected_browser_shows_the_current_page(monkeypatch: pytest.MonkeyPatch) -> None:
    browser = await page_after_blip(monkeypatch, resync.try_rewind)
    assert browser.shown() == ['0:12']
    assert browser.messages == ['vc.sync(1)', 'vc.sync(2)']  # missed JavaScript still runs, in order


async def test_without_the_fix_the_browser_keeps_an_old_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    browser = await page_after_blip(monkeypatch, resync._nicegui_try_rewind)
    assert browser.shown() == ['0:05 · Reconnecting…']  # NiceGUI 3.18's behaviour: drop this fix once it fails
