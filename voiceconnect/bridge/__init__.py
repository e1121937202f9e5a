"""Media servers the app drives for group calls: Janus Gateway's AudioBridge (`janus`), and the configuration the
app writes for the janus it starts itself (`janus_config`)."""
