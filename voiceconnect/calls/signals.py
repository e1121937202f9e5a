"""Validated models of what a browser module may send (signaling); anything else is rejected."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

# Measured: Chromium's audio-only offers and answers are 1.2 KB, aiortc's (candidates included) 1.2 KB on loopback;
# a host with many interfaces adds about 100 characters per candidate. Relayed to a peer's tab and kept there for a
# reconnect, so the cap is what bounds one message: about 10 times the measured sizes.
MAX_SDP = 16 * 1024
MAX_CANDIDATE = 1024  # measured: at most 126 characters (Chromium, aiortc)

CallId = Annotated[str, Field(min_length=1, max_length=40, pattern=r'^[A-Za-z0-9_-]+$')]


class _Signal(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)
    call_id: CallId


class Offer(_Signal):
    kind: Literal['offer']
    leg: CallId
    sdp: Annotated[str, Field(max_length=MAX_SDP)]


class Answer(_Signal):
    kind: Literal['answer']
    leg: CallId
    sdp: Annotated[str, Field(max_length=MAX_SDP)]


class Candidate(_Signal):
    kind: Literal['candidate']
    leg: CallId
    candidate: Annotated[str, Field(max_length=MAX_CANDIDATE)]
    sdp_mid: Annotated[str | None, Field(max_length=64)] = None
    sdp_mline_index: Annotated[int | None, Field(ge=0, le=64)] = None


class MediaUp(_Signal):
    kind: Literal['media_up']


# Why a browser's media failed, as a fixed code: free text from one browser would be shown on the peer's screen
# and written to the log (a place to forge log lines or put words in the app's mouth).
MediaFailure = Literal['mic_refused', 'mic_missing', 'mic_unavailable']
MEDIA_FAILURES: dict[MediaFailure, str] = {
    'mic_refused': 'Microphone access was refused.',
    'mic_missing': 'No microphone was found.',
    'mic_unavailable': 'The microphone could not be opened.',
}


class MediaFailed(_Signal):
    kind: Literal['media_failed']
    reason: MediaFailure

    @property
    def words(self) -> str:
        return MEDIA_FAILURES[self.reason]


KINDS = ('offer', 'answer', 'candidate', 'media_up', 'media_failed')
UNKNOWN_KIND = f'a signal is an object whose kind is one of {", ".join(KINDS)}'


def _kind_of(data: object) -> str | None:
    kind = data.get('kind') if isinstance(data, dict) else getattr(data, 'kind', None)
    return kind if isinstance(kind, str) and kind in KINDS else None


# A callable discriminator with our own message: pydantic's would quote the sender's `kind` verbatim, and the
# rejection reason goes into the log and back to the browser (a `kind` with newlines could forge log lines).
Signal = Annotated[
    Annotated[Offer, Tag('offer')]
    | Annotated[Answer, Tag('answer')]
    | Annotated[Candidate, Tag('candidate')]
    | Annotated[MediaUp, Tag('media_up')]
    | Annotated[MediaFailed, Tag('media_failed')],
    Discriminator(_kind_of, custom_error_type='unknown_kind', custom_error_message=UNKNOWN_KIND),
]
signal_adapter: TypeAdapter[Signal] = TypeAdapter(Signal)


def parse_signal(data: object) -> Signal:
    """Raises pydantic.ValidationError with a readable message on anything malformed."""
    return signal_adapter.validate_python(data)
