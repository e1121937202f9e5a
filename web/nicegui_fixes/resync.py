"""A reconnecting browser gets the page as it is now, not replayed in the wrong order (NiceGUI 3.18 outbox).

When a socket comes back, NiceGUI's `Outbox.try_rewind` re-queues every message the browser missed (its
history) as plain messages. Its send loop always emits pending element *updates* before messages, so the
updates made while the browser was away go out first and the older replayed ones land on top of them. A
call page rebuilt twice around a network blip then shows the first rebuild for good: a frozen timer, a
`Hang up` button whose element no longer exists on the server (clicks do nothing), no error anywhere.

The fix: for missed `update` messages, mark the elements they touched as updated again, so the browser gets
their current state (or their deletion) in one batch; missed JavaScript and notifications are replayed in
their order, after it, as NiceGUI does for any batch. Components loaded by a missed message are loaded again.

Still needed upstream while `test_nicegui_rewind_alone_leaves_the_stale_rebuild` (tests/web/test_resync.py)
passes.
"""

from collections.abc import Iterable

from nicegui.outbox import HistoryEntry, Message, MessageId, Outbox, deleted

_nicegui_try_rewind = Outbox.try_rewind


def _missed(outbox: Outbox, target: MessageId) -> list[Message] | None:
    """Take the messages from `target` on out of the history, oldest first; None if `target` is not there."""
    if all(entry[0] != target for entry in outbox.message_history):
        return None
    missed: list[HistoryEntry] = []
    while outbox.message_history and outbox.message_history[-1][0] >= target:
        missed.append(outbox.message_history.pop())
    outbox.message_history.clear()
    outbox.next_message_id = target
    return [message for _, _, message in reversed(missed)]


def _requeue(outbox: Outbox, missed: Iterable[Message]) -> None:
    replay: list[Message] = []
    for message in missed:
        _, kind, data = message
        if kind == 'update':
            for element_id in data:
                if element_id != '_id':
                    element = outbox.client.elements.get(int(element_id))
                    outbox.updates[int(element_id)] = deleted if element is None else element
        elif kind == 'load_js_components':  # sent again ahead of the updates that need them
            outbox._loaded_components.difference_update(c['tag'].removeprefix('nicegui-') for c in data['components'])
        else:
            replay.append(message)
    outbox.messages.extendleft(reversed(replay))  # before anything queued since: they are older


def try_rewind(self: Outbox, target_message_id: MessageId) -> None:
    """Outbox.try_rewind, replaced: `self` is the outbox of the reconnecting client."""
    outbox, target = self, target_message_id
    if outbox.next_message_id == target:
        return
    missed = _missed(outbox, target)
    if missed is None:
        _nicegui_try_rewind(outbox, target)  # too old to replay: NiceGUI reloads the page
        return
    _requeue(outbox, missed)
    outbox._set_enqueue_event()


def install() -> None:
    Outbox.try_rewind = try_rewind  # type: ignore[method-assign]
