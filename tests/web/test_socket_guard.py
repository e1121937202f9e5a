"""The socket guard (pages/socket_guard.py): a page's socket messages count only from that page's own socket.

NiceGUI 3.18 finds the client of an `event` by the `client_id` in the message; without the guard, a socket that
knew Alice's client id could click Alice's buttons. Browser-level attacks: tests/e2e/test_hostile_clients.py.
"""

import json
import logging

import pytest
from nicegui import core
from nicegui.nicegui import _on_event as nicegui_event_handler
from nicegui.testing import User

from tests.simulated import sign_up

FORGER = 'sid-of-someone-else'  # a socket that made no handshake for the page


def log_out_click(user: User) -> dict:
    """The `event` frame a browser sends when this page's `Log out` button is clicked."""
    (button,) = user.find('Log out').elements
    listener = next(lid for lid, listener in button._event_listeners.items() if listener.type == 'click')
    client = user.client or pytest.fail('no page')
    return {'id': button.id, 'client_id': client.id, 'listener_id': listener, 'args': [json.dumps(None)]}


async def test_a_click_forged_from_another_socket_is_dropped_and_logged(
    user: User, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger='voiceconnect')
    await sign_up(user, 'alice')
    handled: list[dict] = []
    monkeypatch.setattr(user.client, 'handle_event', handled.append)  # where NiceGUI would run the click
    core.sio.handlers['/']['event'](FORGER, log_out_click(user))
    assert handled == []  # dropped before any handler (Log out among them) could run
    await user.should_see('Signed in as alice')
    assert any(
        'Rejected socket message' in r.getMessage() and 'for another page' in r.getMessage() for r in caplog.records
    )


@pytest.mark.parametrize(
    'message',
    [None, 'text', [], {}, {'client_id': 7}, {'client_id': 'no-such-page', 'id': 1, 'listener_id': 'x'}],
    ids=['none', 'text', 'list', 'empty', 'client id not text', 'unknown page'],
)
@pytest.mark.parametrize('event', ['event', 'javascript_response', 'ack', 'log'])
async def test_malformed_messages_raise_nothing(user: User, event: str, message: object) -> None:
    await sign_up(user, 'alice')
    assert core.sio.handlers['/'][event](FORGER, message) is None
    await user.should_see('Signed in as alice')


async def test_malformed_handshakes_are_refused(user: User) -> None:
    await sign_up(user, 'alice')
    client = user.client or pytest.fail('no page')
    for data in (None, 'x', {}, {'client_id': client.id}, {'client_id': 1, 'tab_id': 'x'}):
        assert await core.sio.handlers['/']['handshake'](FORGER, data) is False


async def test_without_the_guard_nicegui_lets_the_forged_click_through(user: User) -> None:
    """Why the guard exists: NiceGUI's own handler takes the page from the message. (If this starts failing, a
    NiceGUI upgrade checks the socket itself, and the guard's room check is only a second line.)"""
    await sign_up(user, 'alice')
    nicegui_event_handler(FORGER, log_out_click(user))
    await user.should_see('Sign in')
