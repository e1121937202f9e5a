"""What the server sends a tab's browser module and a program about a call, and how it says no: one format.

The browser module (assets/voiceconnect.js, through `vc.sync`) and programs (the `/program` socket.io namespace,
its `call` event and the replies to its requests) get the same call payload; the Python voice client reads it with
the names defined here. A refused request is answered `{'error': <words for a person>, 'code': <Refusal>}`:
programs read the code, never the words.
"""

from typing import Any, NotRequired, TypedDict

from .calls.machine import CallError, Refusal
from .calls.views import CallView

# the events a program's socket receives (a browser module gets the same news as `vc.*` calls)
CALL = 'call'
SIGNAL = 'signal'
PRESENCE = 'presence'
SIGNED_OUT = 'signed_out'
SERVICE = 'service'


class MemberPayload(TypedDict):
    name: str
    state: str  # ringing | joined | left
    muted: bool
    reconnecting: bool
    host: bool
    left_reason: str | None


class LinkPayload(TypedDict):
    id: str  # signal on it with this id as `leg`
    role: str  # offer (this tab makes the offer) | answer
    peer: str
    live: bool  # both ends joined: the microphone goes on it (before, an invitation's link connects silent)


class CallPayload(TypedDict):
    id: str
    role: str  # caller | callee
    peer: str
    state: str  # ringing | connecting | active | ended
    here: bool  # this tab (program) carries the call's audio
    leg: str | None
    me_muted: bool
    peer_muted: bool
    end_reason: str | None
    ended_by_me: bool
    answered_elsewhere: bool
    failure: str | None
    peer_reconnecting: bool
    # the RTCConfiguration ({"iceServers": [...], "iceTransportPolicy": ...}), which may hold TURN credentials:
    # only in the views of a call this tab carries
    ice: NotRequired[dict[str, Any]]
    # only for a group call (more than two people ever in it): a 1:1 call's payload is as it always was
    members: NotRequired[list[MemberPayload]]
    links: NotRequired[list[LinkPayload]]  # this tab's peer connections beyond the caller-callee leg
    my_state: NotRequired[str]  # ringing | joined | left
    inviter: NotRequired[str]  # an invitation into a call going on: who invites…
    others: NotRequired[list[str]]  # …and who else is in it
    invited_here: NotRequired[bool]  # …and whether this tab rings for it
    media: NotRequired[str]  # mesh | bridge (the call moved to the audio bridge: one link, to `everyone`)


def call_payload(view: CallView, ice: dict[str, Any] | None) -> CallPayload:
    """A call as one tab or program sees it; `ice` goes with it only while it carries the live call."""
    payload = CallPayload(
        id=view.id,
        role=view.role,
        peer=view.peer,
        state=str(view.state),
        here=view.here,
        leg=view.leg,
        me_muted=view.me_muted,
        peer_muted=view.peer_muted,
        end_reason=str(view.end_reason) if view.end_reason else None,
        ended_by_me=view.ended_by_me,
        answered_elsewhere=view.answered_elsewhere,
        failure=view.failure,
        peer_reconnecting=view.peer_reconnecting,
    )
    if ice is not None and view.connects_here:
        payload['ice'] = ice
    if len(view.members) > 2:
        _add_group(payload, view)
    return payload


def _add_group(payload: CallPayload, view: CallView) -> None:
    payload['members'] = [
        MemberPayload(
            name=m.name,
            state=str(m.state),
            muted=m.muted,
            reconnecting=m.reconnecting,
            host=m.host,
            left_reason=str(m.left_reason) if m.left_reason else None,
        )
        for m in view.members
    ]
    payload['links'] = [LinkPayload(id=link.id, role=link.role, peer=link.peer, live=link.live) for link in view.links]
    payload['media'] = view.media
    if view.my_state is not None:
        payload['my_state'] = str(view.my_state)
    if view.inviter is not None:
        payload['inviter'] = view.inviter
        payload['others'] = list(view.others)
        payload['invited_here'] = view.invited_here


class Refused(TypedDict):
    error: str
    code: str


def refused(error: CallError) -> Refused:
    return Refused(error=str(error), code=str(error.code))


def refused_with(message: str, code: Refusal = Refusal.REFUSED) -> Refused:
    return Refused(error=message, code=str(code))
