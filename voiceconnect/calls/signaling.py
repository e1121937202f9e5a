"""Signaling: what a tab's browser module says about a call, checked, then passed on or acted upon.

Negotiation (offers, answers, ICE candidates) is relayed between the caller's device and one callee leg: the
callee's tabs make the offers (one per leg), the caller answers each. In a group call every other pair of joined
members has a link, negotiated the same way: the one who came later offers, the other answers. Reports about the
media (up, failed) are transitions of the call, made by the call manager. Identity comes from the device the
message arrived on, never from the message. On a call moved to the bridge, each tab's one link ends at the bridge:
its offer and candidates go to Janus (bridging.py), Janus's answer comes back to the tab on that link.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .machine import Call, CallError
from .manager import CallManager
from .signals import Answer, Candidate, MediaFailed, MediaUp, Offer, Signal

if TYPE_CHECKING:
    from .bridging import BridgeRouter

Relay = Callable[[str, str, dict[str, Any]], None]  # (target user, target device, message for its browser module)


async def handle_signal(
    calls: CallManager,
    relay: Relay,
    user: str,
    device: str,
    signal: Signal,
    bridge: 'BridgeRouter | None' = None,
) -> None:
    """Act on one validated signal from `device` (signed in as `user`); raises CallError if it is not allowed."""
    if isinstance(signal, MediaUp):
        await calls.media_up(signal.call_id, user, device)
    elif isinstance(signal, MediaFailed):
        await calls.media_failed(signal.call_id, user, device, signal.reason)
    else:
        call = await calls.party_call(signal.call_id, user, device)
        if bridge is not None and on_bridge(call, signal):
            await bridge.route(call, user, device, signal)
        else:
            relay(*route(call, device, signal))


def on_bridge(call: Call, signal: Offer | Answer | Candidate) -> bool:
    return (link := call.links.get(signal.leg)) is not None and link.to_bridge


def route(call: Call, device: str, signal: Offer | Answer | Candidate) -> tuple[str, str, dict[str, Any]]:
    """Where a negotiation message goes (user, device) and what its browser module gets (the call id and leg, no
    device ids; on a mesh link also its id as `link`). `signal.leg` names the caller-callee leg or a link."""
    if signal.leg in call.links:
        return _route_link(call, device, signal)
    if call.bridged:
        raise CallError('Unknown leg for this call.')  # its legs went with the move to the bridge
    is_caller = device == call.caller_device
    leg = signal.leg if is_caller else call.leg_of(device)
    if leg is None or leg not in call.legs or (is_caller and call.answered_leg not in (None, leg)):
        raise CallError('Unknown leg for this call.')
    if not is_caller and signal.leg != leg:
        raise CallError('That leg is not yours.')
    if not all(call.has_user(user) for user in (call.caller, call.callee)):
        raise CallError('Unknown leg for this call.')  # one of its two ends left the (group) call
    if (isinstance(signal, Offer) and is_caller) or (isinstance(signal, Answer) and not is_caller):
        raise CallError(f'The {"callee" if isinstance(signal, Offer) else "caller"} sends the {signal.kind}.')
    target_user, target = (call.callee, call.legs[leg]) if is_caller else (call.caller, call.caller_device)
    return target_user, target, _relayed(call, signal) | {'leg': leg}


def _route_link(call: Call, device: str, signal: Offer | Answer | Candidate) -> tuple[str, str, dict[str, Any]]:
    """A message on one of the mesh's links: only from its ends, the offer only from the one who came later."""
    link = call.links[signal.leg]
    end = link.end_of(device)
    if end is None:
        raise CallError('That link is not yours.')
    if link.to_bridge:
        raise CallError('The audio bridge is not available here.')  # never relayed to a person
    if (isinstance(signal, Offer) and end != 'offer') or (isinstance(signal, Answer) and end != 'answer'):
        raise CallError(f'The {"newcomer" if isinstance(signal, Offer) else "other end"} sends the {signal.kind}.')
    target_user, target = (
        (link.answerer, link.answerer_device) if end == 'offer' else (link.offerer, link.offerer_device)
    )
    return target_user, target, _relayed(call, signal) | {'leg': signal.leg, 'link': signal.leg}


def _relayed(call: Call, signal: Offer | Answer | Candidate) -> dict[str, Any]:
    return {'call_id': call.id, **signal.model_dump(exclude={'call_id'})}
