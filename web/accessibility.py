"""What every page gets so that people with low vision and screen-reader users can use it: Quasar brand colours
with at least WCAG AA contrast (4.5:1) for text on white and for white text on them, and a name for Quasar's
loading bar (a `progressbar` without one is unnamed to a screen reader). NiceGUI's own defaults (primary #5898d4,
positive #21ba45) give 3.1:1 and 2.6:1. Set through NiceGUI's public `app.config.quasar_config`, read per page."""

from nicegui import app

BRAND = {
    'primary': '#1565c0',  # 5.8:1 with white, 5.4:1 on the missed-call notice's orange-1
    'positive': '#2e7d32',  # 5.1:1
}
LOADING_BAR_NAME = 'Loading'


def install() -> None:
    config = app.config.quasar_config
    config.setdefault('brand', {}).update(BRAND)
    # QAjaxBar hands attributes it does not know to its element, the one with role=progressbar
    config.setdefault('loadingBar', {})['aria-label'] = LOADING_BAR_NAME
