"""`/login`: sign in, create an account, or continue as another account signed in on this browser."""

from urllib.parse import quote, unquote

from nicegui import ui

from voiceconnect.people.accounts import AccountError
from web.session import continue_as, current_accounts, sign_in
from web.tabs import current_tab


def url(next_path: str = '/') -> str:
    return '/login' if next_path in ('', '/') else f'/login?next={quote(next_path, safe="")}'


def _safe_next(next_path: str | None) -> str:
    path = unquote(next_path or '/')
    return path if path.startswith('/') and not path.startswith('//') and not path.startswith('/login') else '/'


async def page(next: str | None = None, switch: str | None = None) -> None:
    tab = current_tab()
    target = _safe_next(next)
    await tab.ready.wait()
    if tab.device is not None and not switch:
        ui.navigate.to(target)
        return

    async def submit(create: bool) -> None:
        error.text = ''
        try:
            await sign_in(tab, username.value or '', secret.value or '', create=create)
        except AccountError as problem:
            error.text = str(problem)
            return
        ui.navigate.to(target)

    async def switch_to(name: str, token: str) -> None:
        try:
            device = await continue_as(tab, name, token)
        except AccountError as problem:  # e.g. too many tabs open
            error.text = str(problem)
            return
        if device is None:
            error.text = f'{name} was signed out. Please sign in again.'
            return
        ui.navigate.to(target)

    with ui.card().classes('w-full max-w-sm mx-auto q-mt-xl q-pa-lg'):
        with ui.row().classes('items-center no-wrap gap-1 text-primary'):
            ui.icon('call', size='32px')
            ui.label('VoiceConnect').classes('text-h5')
        ui.label('Sign in to see who is online and call them.').classes('text-grey-7')
        if tab.notice:
            ui.label(tab.notice).classes('text-orange-9').props('role=status')
            tab.notice = None
        signed_in_here = await current_accounts(tab)
        others = {n: t for n, t in signed_in_here.items() if not tab.device or n != tab.device.user}
        if others:
            ui.label('Signed in on this browser').classes('text-subtitle2 q-mt-md')
            for name, token in others.items():
                ui.button(f'Continue as {name}', on_click=lambda n=name, t=token: switch_to(n, t)).props(
                    'outline no-caps'
                ).classes('w-full')
            ui.label('Or sign in with another account').classes('text-subtitle2 q-mt-md')
        username = ui.input('Username').props('autocomplete=username autofocus').classes('w-full')
        secret = ui.input('Password', password=True, password_toggle_button=True).props('autocomplete=current-password')
        secret.classes('w-full').on('keydown.enter', lambda: submit(create=False))
        error = ui.label().classes('text-negative').props('role=alert')
        with ui.row().classes('w-full q-mt-md'):
            ui.button('Sign in', on_click=lambda: submit(create=False)).props('unelevated no-caps')
            ui.button('Create account', on_click=lambda: submit(create=True)).props('flat no-caps')
        if tab.device is not None:
            ui.button('Back', on_click=lambda: ui.navigate.to('/')).props('flat no-caps')
