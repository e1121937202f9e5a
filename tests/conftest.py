pytest_plugins = ['voiceconnect.testing.harness']
