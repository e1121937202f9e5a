"""A call-aware page in a few lines: who I am, whether I am in a call, and who is online."""

from nicegui import ui

from pages import api


@api.page('/status')
async def status() -> None:
    me = await api.connection()
    if me is None:
        return
    state = ui.label()
    people = ui.label()

    def show(_: object = None) -> None:
        call = me.call
        state.text = f'{me.user} is ' + (f'in a call with {call.peer}' if call else 'free')
        people.text = 'Online: ' + (', '.join(p.name for p in me.online_users()) or 'nobody else')

    show()
    api.subscribe(me, api.CallChanged, show)
    api.subscribe(me, api.PresenceChanged, show)
