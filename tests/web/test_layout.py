"""NiceGUI's internals are touched in one place, web/nicegui_fixes (guarded by the version they were written
for); pages/, the rest of web/, examples/ and main.py use NiceGUI's public API only: no internal module, no module
deep inside the package (`nicegui.elements.mixins…`), no private attribute of anything but `self`, and no override
of one of NiceGUI's private element hooks (`_displayed_contents`). The layering of packages itself is checked by
import-linter (pyproject.toml)."""

import ast
import re
from pathlib import Path

import pytest
from nicegui.element import Element

from voiceconnect.testing.servers import PROJECT_DIR

INTERNAL_MODULES = {'nicegui.core', 'nicegui.outbox', 'nicegui.nicegui', 'nicegui.client', 'nicegui.storage'}
PUBLIC_MODULES = {'nicegui', 'nicegui.events'}  # what NiceGUI documents importing from
PRIVATE_HOOKS = {name for name in dir(Element) if name.startswith('_') and not name.startswith('__')}
FIXES = PROJECT_DIR / 'web' / 'nicegui_fixes'
OUTSIDE_THE_FIXES = (
    p for f in ('pages', 'web', 'examples') for p in (PROJECT_DIR / f).rglob('*.py') if FIXES not in p.parents
)
CHECKED = [*sorted(OUTSIDE_THE_FIXES), PROJECT_DIR / 'main.py']


def internal_uses(path: Path) -> list[str]:
    """Imports of NiceGUI's internal or deep modules, private attributes of anything but `self`, and overrides of
    NiceGUI's private element hooks."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            names = {f'{node.module}.{alias.name}' for alias in node.names} | {node.module}
            found += [f'line {node.lineno}: imports {name}' for name in sorted(names & INTERNAL_MODULES)]
            if node.module.startswith('nicegui.') and node.module not in PUBLIC_MODULES | INTERNAL_MODULES:
                found.append(f'line {node.lineno}: imports from deep inside NiceGUI, {node.module}')
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in PRIVATE_HOOKS:
            found.append(f"line {node.lineno}: overrides NiceGUI's private {node.name}")
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
    assert internal_uses(FIXES / 'page_elements.py') == [
        'line 19: imports from deep inside NiceGUI, nicegui.elements.mixins.text_element',
        "line 29: overrides NiceGUI's private _displayed_contents",
        'line 30: uses private ._displayed_contents',
    ]


# the README's architecture: the folder list as the tree is


def readme_tree() -> dict[str, set[str]]:
    """The README's architecture block as {folder: the modules and folders listed under it}."""
    readme = (PROJECT_DIR / 'README.md').read_text()
    block = readme.split('## Architecture\n\n```\n', 1)[1].split('```', 1)[0]
    tree: dict[str, set[str]] = {}
    parents: list[tuple[int, str]] = []  # (indent, folder) of the folders the current line is inside
    for line in block.splitlines():
        if not (match := re.match(r'^( *)([a-z_]+/|[a-z_]+)(?:\s+|$)', line)) or '.' in match[2]:
            continue  # the browser drawing, main.py, and descriptions that go on
        indent, name = len(match[1]), match[2]
        while parents and parents[-1][0] >= indent:
            parents.pop()
        parent = parents[-1][1] if parents else ''
        if parent:
            tree.setdefault(parent, set()).add(name.rstrip('/'))
        if name.endswith('/'):
            parents.append((indent, parent + name))
            tree.setdefault(parent + name, set())
    return tree


def modules_in(folder: Path) -> set[str]:
    modules = {p.stem for p in folder.glob('*.py') if p.stem != '__init__'}
    return modules | {p.parent.name for p in folder.glob('*/__init__.py')}


def test_the_readme_lists_every_module_of_the_tree_and_only_those() -> None:
    tree = readme_tree()
    assert {'pages/', 'web/', 'web/nicegui_fixes/', 'voiceconnect/', 'voiceconnect/calls/'} <= tree.keys()
    for folder, listed in tree.items():
        assert listed == modules_in(PROJECT_DIR / folder), folder
