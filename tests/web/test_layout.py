"""NiceGUI's internals are touched in one place, web/nicegui_fixes (guarded by the version they were written
for); pages/, the rest of web/, examples/ and main.py use NiceGUI's public API only. The layering of packages
itself is checked by import-linter (pyproject.toml)."""

import ast
from pathlib import Path

import pytest

from voiceconnect.testing.servers import PROJECT_DIR

INTERNAL_MODULES = {'nicegui.core', 'nicegui.outbox', 'nicegui.nicegui', 'nicegui.client', 'nicegui.storage'}
FIXES = PROJECT_DIR / 'web' / 'nicegui_fixes'
OUTSIDE_THE_FIXES = (
    p for f in ('pages', 'web', 'examples') for p in (PROJECT_DIR / f).rglob('*.py') if FIXES not in p.parents
)
CHECKED = [*sorted(OUTSIDE_THE_FIXES), PROJECT_DIR / 'main.py']


def internal_uses(path: Path) -> list[str]:
    """Imports of NiceGUI's internal modules, and private attributes of anything but `self`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            names = {f'{node.module}.{alias.name}' for alias in node.names} | {node.module}
            found += [f'line {node.lineno}: imports {name}' for name in sorted(names & INTERNAL_MODULES)]
        elif isinstance(node, ast.Import):
            found += [f'line {node.lineno}: imports {a.name}' for a in node.names if a.name in INTERNAL_MODULES]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and not _is_self(node.value):
            found.append(f'line {node.lineno}: uses private .{node.attr}')
    return found


def _private(name: str) -> bool:
    return name.startswith('_') and not name.startswith('__')


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == 'self'


@pytest.mark.parametrize('path', CHECKED, ids=[str(p.relative_to(PROJECT_DIR)) for p in CHECKED])
def test_nicegui_internals_stay_in_the_fixes(path: Path) -> None:
    assert internal_uses(path) == []


def test_the_check_sees_what_the_fixes_do() -> None:
    """Not vacuous: the fixes themselves are full of what the check looks for."""
    assert internal_uses(FIXES / 'resync.py')
    assert internal_uses(FIXES / 'socket_guard.py')
