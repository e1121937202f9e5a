"""`Search people`: anyone by name, online or not, each with their presence and `Call <name>`. With nothing typed
it lists the user's contacts who are not online (those online are in the online list already). At most
SEARCH_LIMIT rows, so plain elements are fine here; the thousand online stay in the online list's data."""

from collections.abc import Awaitable, Callable, Iterable

from nicegui import ui

from voiceconnect.calls.machine import CallError
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import Person, Presence, PresenceChange

from . import format

TYPING_PAUSE_MS = 200  # search once the person pauses, not at every key
CONTACTS_SHOWN = 8  # with nothing typed; typing finds the others
SHOWN_QUERY = 32  # characters of the query said back (no name is longer)


class PeopleSearch:
    def __init__(
        self,
        device: Device,
        on_call: Callable[[str], Awaitable[None]],
        just_called: Callable[[], Iterable[str]],
        *,
        label: str = 'Search people',
        verb: str = 'Call',
        idle: bool = True,
    ) -> None:
        """`just_called`: peers of calls that just ended, whose rows the history may not have written yet. `label`
        names the box, `verb` each result's button (`Call <name>`, or `Add <name>` in a call); `idle`: with nothing
        typed, list the contacts not online (else nothing)."""
        self.device = device
        self.on_call = on_call
        self.just_called = just_called
        self.verb = verb
        self.idle = idle
        self.shown: set[str] = set()  # names on screen: presence changes of others cost nothing
        self.contacts: set[str] = set()  # everyone the user called or was called by, online or not
        self.box = ui.input(label, on_change=self.typed).props(f'clearable outlined dense debounce={TYPING_PAUSE_MS}')
        self.box.props('autocomplete=off').classes('w-full')
        self.results = ui.column().classes('w-full gap-1')

    async def typed(self) -> None:
        """The person changed the query: a search they asked for (SEARCHES_PER_MINUTE)."""
        try:
            await self.show(asked=True)
        except CallError as refused:
            self.results.clear()
            with self.results:
                ui.label(str(refused)).classes('text-orange-9').props('role=status')

    async def show(self, asked: bool = False) -> None:
        """Draw the results for what is typed now (contacts not online when nothing is)."""
        query = (self.box.value or '').strip()
        if query:
            people = await self.device.find_people(query, asked=asked)
        elif not self.idle:
            people = []
        else:
            contacts = await self.device.contacts(asked=asked)
            known = {person.name for person in contacts}
            contacts += [self.device.person(name) for name in sorted(set(self.just_called()) - known)]
            self.contacts = {person.name for person in contacts}
            people = [person for person in contacts if person.presence == Presence.OFFLINE][:CONTACTS_SHOWN]
        if self.results.is_deleted or query != (self.box.value or '').strip():
            return  # the page is gone, or a newer search draws the results
        self.shown = {person.name for person in people}
        self.results.clear()
        with self.results:
            if query and not people:
                ui.label(f'Nobody is called {query[:SHOWN_QUERY]}…').classes('text-grey-8')
            elif people:
                ui.label('Found' if query else 'Contacts not online').classes('text-caption text-grey-8')
            for person in people:
                self._row(person)

    def concerns(self, changes: tuple[PresenceChange, ...]) -> bool:
        """Whether these presence changes may change what is shown: someone shown, or with nothing typed, a contact
        going offline (then listed). News about anyone else costs nothing."""
        if any(change.name in self.shown for change in changes):
            return True
        idle = not (self.box.value or '').strip()
        return idle and any(c.name in self.contacts and c.presence == Presence.OFFLINE for c in changes)

    def _row(self, person: Person) -> None:
        with ui.row().classes('w-full items-center no-wrap q-px-sm q-py-xs bg-white rounded-borders'):
            ui.label(person.name).classes('text-weight-medium')
            ui.label(format.PRESENCE[person.presence]).classes('text-caption text-grey-8')
            ui.space()
            icon = 'call' if self.verb == 'Call' else 'person_add'
            ui.button(f'{self.verb} {person.name}', icon=icon, on_click=lambda: self.on_call(person.name)).props(
                'unelevated no-caps dense color=positive'
            )
