"""NiceGUI's simulated `User` against the app from main.py (tests/simulated.py)."""

from tests.simulated import fresh_data_dir  # noqa: F401 - autouse: a fresh data dir per test
