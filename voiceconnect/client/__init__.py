"""The Python voice client: take part in VoiceConnect calls from a program (a bot, a recorder, a test).

See `VoiceClient`, and the `voiceconnect` command (`voiceconnect.client.cli`) built on it. It needs only aiortc
and python-socketio's asyncio client, never the app's server side.
"""

from .media import AudioFormatError
from .voice_client import Call, CallRefused, IncomingCall, PresenceChange, VoiceClient, VoiceClientError

__all__ = [
    'AudioFormatError',
    'Call',
    'CallRefused',
    'IncomingCall',
    'PresenceChange',
    'VoiceClient',
    'VoiceClientError',
]
