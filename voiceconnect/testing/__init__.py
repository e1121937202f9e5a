"""The test harness for VoiceConnect and its extensions, like NiceGUI's `nicegui.testing`: `plugin` (the pytest
plugin: `pytest_plugins = ['voiceconnect.testing.plugin']`), `servers` (the app, Redis, coturn and the cluster
script as subprocesses), `browser` (one Chromium per person), `probes` (what a page hears), `audio` (tone files,
recordings) and `waiting` (`wait_until`). Nothing in the app imports it."""
