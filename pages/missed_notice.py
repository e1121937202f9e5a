"""The missed-call notice: the calls that rang this tab and went unanswered, as one notice in the page below the
header (an overlay would lie over the header's controls), with what a person wants from it: `Call back <name>`
and `Recent calls`. It goes once the missed calls are seen, in any tab (the chrome hears `MissedCallsSeen`)."""

from collections.abc import Awaitable, Callable

from nicegui import ui

MAX_NAMED = 3  # callers named (each with a Call back button); more are counted
CallBack = Callable[[str], Awaitable[None]]
NOTICE_CLASSES = 'w-full items-center gap-2 q-pa-sm q-mt-md bg-orange-1 rounded-borders'
NOTICE_PROPS = 'id=vc-missed-notice role=status aria-label="Missed calls"'


def headline(calls: int, callers: list[str]) -> str:
    """`Missed call from alice`, `2 missed calls from alice`, `2 missed calls: alice, carol`,
    `5 missed calls: alice, bob, carol and 2 others`."""
    if calls == 1:
        return f'Missed call from {callers[0]}'
    if len(callers) == 1:
        return f'{calls} missed calls from {callers[0]}'
    named = ', '.join(callers[:MAX_NAMED])
    others = len(callers) - MAX_NAMED
    if others > 0:
        named += f' and {others} other' + ('s' if others > 1 else '')
    return f'{calls} missed calls: {named}'


class MissedNotice:
    """Built empty once per document; its contents exist only while it is shown (no cost in an idle tab)."""

    def __init__(self, on_call_back: CallBack, on_recent_calls: Callable[[], Awaitable[None]]) -> None:
        self.on_call_back = on_call_back
        self.on_recent_calls = on_recent_calls
        self.calls = 0
        self.callers: list[str] = []  # each once, in the order they called
        self.area = ui.element().classes('w-full max-w-3xl mx-auto q-px-md')
        self.area.set_visibility(False)

    def add(self, caller: str) -> None:
        """One more missed call: the notice says all of them at once."""
        self.calls += 1
        if caller not in self.callers:
            self.callers.append(caller)
        self._build()

    def clear(self) -> None:
        """Seen (here or in another tab) or dismissed."""
        if not self.calls:
            return  # not shown: nothing to send
        self.calls = 0
        self.callers.clear()
        self.area.clear()
        self.area.set_visibility(False)

    def _build(self) -> None:
        self.area.clear()
        self.area.set_visibility(True)
        with self.area, ui.row().classes(NOTICE_CLASSES).props(NOTICE_PROPS).mark('missed-notice'):
            ui.icon('phone_missed', color='negative', size='sm')
            ui.label(headline(self.calls, self.callers)).classes('text-weight-medium')
            ui.space()
            for caller in self.callers[:MAX_NAMED]:
                ui.button(f'Call back {caller}', icon='call', on_click=lambda c=caller: self.on_call_back(c)).props(
                    'flat dense no-caps color=primary'
                )
            ui.button('Recent calls', icon='history', on_click=self.on_recent_calls).props(
                'flat dense no-caps color=primary'
            )
            ui.button(icon='close', on_click=self.clear).props('flat round dense aria-label=Dismiss color=grey-8')
