"""The plugin's first name, kept so `pytest_plugins = ['voiceconnect.testing.harness']` goes on working: use
`voiceconnect.testing.plugin` (and the harness's other modules: servers, browser, probes, audio, waiting)."""

from voiceconnect.testing.plugin import *  # noqa: F403
