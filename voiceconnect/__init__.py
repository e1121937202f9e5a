"""VoiceConnect core: settings, accounts, calls, presence and the per-user connection service.

Nothing in this package imports NiceGUI's UI; `pages/` builds the UI on top of it.
"""
