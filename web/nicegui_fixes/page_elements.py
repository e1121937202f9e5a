"""Two things pages need from NiceGUI 3.18 that its public API does not offer:

- `ShownText`: a custom element whose rows or text live in the browser (its props, its JavaScript) says what it
  shows, so that NiceGUI's simulated `User` (page tests without a browser: `user.should_see`) finds it. NiceGUI
  asks an element for that through the private hook `Element._displayed_contents` (nicegui/element_filter.py),
  documented in its docstring as the one to override but named as private; pages implement the public
  `shown_text()` instead, and this is the one place that overrides the hook.
- `TextTag`: an element of any HTML tag with a text (the dashboard's `<h2>` headings, role `heading`):
  `ui.label` is always a `<div>`, and the mixin that gives an element its text lives deep in
  `nicegui.elements.mixins`.

Still needed upstream while `test_without_shown_text_the_simulated_user_sees_nothing_of_a_custom_element`
(tests/web/test_nicegui_fixes.py) passes.
"""

from typing import Any

from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement


class ShownText(ui.element):
    """A custom element that tells NiceGUI's simulated user what it shows (`shown_text`)."""

    def shown_text(self) -> list[str | None]:
        """The texts this element shows now, as a person would read them (None and '' are skipped)."""
        return []

    def _displayed_contents(self, *, only_visible: bool) -> list[Any]:
        return [*super()._displayed_contents(only_visible=only_visible), *self.shown_text()]


class TextTag(TextElement):
    """`<tag>text</tag>`, e.g. `TextTag('h2', 'Recent calls')`."""

    def __init__(self, tag: str, text: str) -> None:
        super().__init__(tag=tag, text=text)
