"""NiceGUI's simulated `User` against the app from main.py (tests/simulated.py)."""

from tests.simulated import (  # noqa: F401 - autouse: a fresh data dir per test, browsers that make round trips
    browsers_make_their_round_trips,
    fresh_data_dir,
)
