"""Accessibility in real Chromium: `audit` runs axe-core on a page and `assert_accessible` fails on its serious and
critical findings with a readable message; `announcements` reads what the page's `aria-live` regions say, from the
browser's own accessibility tree (what a screen reader is told).

axe-core comes from the test dependency `axe-playwright-python`, which ships `axe.min.js`: no network at test time.
Everything is evaluated with `peek` (no user gesture), so an audit never unlocks autoplay in the page under test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from playwright.sync_api import Page

from .browser import peek

# WCAG 2.1 A and AA, the level the issue asks for (axe's best-practice rules are left out: advice, not failures)
WCAG_TAGS = ('wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa')
FAILING_IMPACTS = ('serious', 'critical')


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]  # CSS selectors of the offending elements
    why: tuple[str, ...] = ()  # axe's own words for each of them (e.g. the contrast ratio and colours found)

    def __str__(self) -> str:
        whys = self.why or ('',) * len(self.targets)
        nodes = (f'{target}: {why}' if why else target for target, why in zip(self.targets, whys, strict=True))
        return f'{self.rule} ({self.impact}): {self.help}\n' + '\n'.join(f'    at {node}' for node in nodes)


# Colours are judged once the transitions running now are over (a dialog fading in is mid-colour), not the endless
# animations (a spinner); a transition may start a frame after what started it, hence the frames and the rounds.
_SETTLED_JS = """(async () => {
  let quiet = 0;
  for (let round = 0; round < 40 && quiet < 3; round++) {
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const running = document.getAnimations().filter(
      (a) => a.playState === 'running' && a.effect?.getTiming().iterations !== Infinity);
    quiet = running.length ? 0 : quiet + 1;
    await Promise.all(running.map((a) => a.finished.catch(() => null)));
  }
})()"""


@cache
def axe_source() -> str:
    return files('axe_playwright_python').joinpath('axe.min.js').read_text(encoding='utf-8')


def _load_axe(page: Page) -> None:
    """Once per document (an in-app navigation keeps it, a reload does not)."""
    if not peek(page, 'typeof window.axe === "object"'):
        peek(page, axe_source() + '\n;true')


def audit(page: Page, impacts: tuple[str, ...] = FAILING_IMPACTS, skip: tuple[str, ...] = ()) -> list[Violation]:
    """axe-core's WCAG 2.1 A/AA violations of the page as it is now, those of the given impacts; `skip`: rule ids
    not to run (for a state where axe is known to misjudge, say which and why where you call it)."""
    _load_axe(page)
    options: dict[str, Any] = {'runOnly': {'type': 'tag', 'values': list(WCAG_TAGS)}, 'resultTypes': ['violations']}
    if skip:
        options['rules'] = {rule: {'enabled': False} for rule in skip}
    found: list[dict[str, Any]] = peek(
        page,
        f"""{_SETTLED_JS}.then(() => axe.run(document, {json.dumps(options)})).then(r => r.violations.map(v => ({{
            rule: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.map(n => n.target.join(' ')),
            why: v.nodes.map(n => [...n.any, ...n.all, ...n.none].map(c => c.message).join('; '))}})))""",
    )
    return [
        Violation(v['rule'], v['impact'] or 'unknown', v['help'], tuple(v['targets']), tuple(v['why']))
        for v in found
        if v['impact'] in impacts
    ]


def assert_accessible(page: Page, where: str, skip: tuple[str, ...] = ()) -> None:
    """Fail if axe-core finds any serious or critical WCAG 2.1 A/AA violation in the page as it is now."""
    violations = audit(page, skip=skip)
    assert not violations, f'{where}: {len(violations)} accessibility violation(s)\n' + '\n'.join(
        f'  {violation}' for violation in violations
    )


def announcements(page: Page) -> list[str]:
    """The text of every live region the browser's accessibility tree has (`polite` or `assertive`), as a screen
    reader gets it: from Chromium's computed tree (CDP `Accessibility`), not from the DOM."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes: list[dict[str, Any]] = cdp.send('Accessibility.getFullAXTree')['nodes']
    finally:
        cdp.detach()
    by_id = {node['nodeId']: node for node in nodes}

    def live(node: dict[str, Any]) -> bool:
        props = {p['name']: p['value'].get('value') for p in node.get('properties', [])}
        return props.get('live') in ('polite', 'assertive') and props.get('liveRegionRoot') is None

    def text(node: dict[str, Any]) -> str:  # an ignored node (a pseudo-element's box) may hold text all the same
        if node.get('role', {}).get('value') in ('StaticText', 'text') and not node.get('ignored'):
            return str(node.get('name', {}).get('value', ''))
        return ' '.join(filter(None, (text(by_id[c]) for c in node.get('childIds', []) if c in by_id)))

    return [' '.join(text(node).split()) for node in nodes if live(node) and not node.get('ignored')]
