"""The UI: NiceGUI sub pages and the SPA root. Pages only build UI and call the core in `voiceconnect/`."""
