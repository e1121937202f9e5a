"""Example extensions of VoiceConnect (see the README); tests import them to keep them working."""
