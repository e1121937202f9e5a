"""`GET /metrics`: Prometheus text of what this process sees (the `prometheus-client` package).

Counts and timings come from the core's observer seam (voiceconnect/observe.py); what is true *now* (users online,
tabs connected, calls ringing and active) is read from the backend when scraped, so an idle server does no work
for its metrics. Each process serves its own: with several (REDIS_URL), scrape every one; the online users are the
shared presence, the tabs and the counts are this process's (`voiceconnect_info{instance}` names it).

Answered to the addresses in METRICS_ALLOW only (loopback by default): it tells who is busy and how much.
"""

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import Request, Response
from nicegui import app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from voiceconnect import observe
from voiceconnect.backend import Backend
from voiceconnect.calls.machine import LEAVE_REASONS, CallState, EndReason, LeaveReason, MemberState

from . import program_socket
from .tabs import unconnected_pages

RING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
DURATION_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)


INVITATION_OUTCOMES = LEAVE_REASONS[MemberState.RINGING]  # how an invitation ends if not joined


class Now(Collector):
    """The gauges, read from the backend at each scrape."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def collect(self) -> Iterator[Any]:
        info = InfoMetricFamily('voiceconnect', 'this process', labels=['instance'])
        info.add_metric([self.backend.settings.instance_name], {'shared': str(self.backend.shared).lower()})
        yield info
        hub = self.backend.hub
        yield GaugeMetricFamily('voiceconnect_online_users', 'users online', value=len(hub.online_users()))
        yield GaugeMetricFamily(
            'voiceconnect_connected_tabs', 'tabs of this process whose socket is up', value=hub.connected_tabs
        )
        yield GaugeMetricFamily(
            'voiceconnect_program_sockets', 'program sockets this process holds', value=program_socket.held()
        )
        live = list(self.backend.switchboard.calls.calls.values())
        states = [call.state for call in live]
        ringing = sum(state == CallState.RINGING for state in states)
        yield GaugeMetricFamily('voiceconnect_calls_ringing', 'calls ringing', value=ringing)
        yield GaugeMetricFamily(
            'voiceconnect_calls_active',
            'calls answered and not yet ended',
            value=sum(state in (CallState.CONNECTING, CallState.ACTIVE) for state in states),
        )
        yield GaugeMetricFamily(
            'voiceconnect_call_members',
            'people joined in live calls (two per 1:1 call once answered)',
            value=sum(len(call.joined()) for call in live if call.state != CallState.RINGING),
        )
        yield GaugeMetricFamily(
            'voiceconnect_unconnected_pages', 'loaded pages waiting for their socket', value=unconnected_pages()
        )


class Metrics:
    """One registry per app: the core's happenings counted, the gauges collected at scrape."""

    def __init__(self, backend: Backend) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(Now(backend))
        self.calls = Counter('voiceconnect_calls', 'calls that ended, by outcome', ['outcome'], registry=self.registry)
        self.ring = Histogram(
            'voiceconnect_ring_seconds',
            "server side: from a call request to the ring handed to the callee's tabs",
            buckets=RING_BUCKETS,
            registry=self.registry,
        )
        self.duration = Histogram(
            'voiceconnect_call_duration_seconds',
            'talk time of answered calls',
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.signals = Counter(
            'voiceconnect_signaling_messages',
            'signaling messages from tabs, by result',
            ['result'],
            registry=self.registry,
        )
        self.limited = Counter(
            'voiceconnect_rate_limited', 'requests refused by a rate limit, by limit', ['limit'], registry=self.registry
        )
        self.group_joins = Counter(
            'voiceconnect_group_joins',
            'invitations into a call going on, by outcome (joined, or why not)',
            ['outcome'],
            registry=self.registry,
        )
        self.sign_in_failures = Counter(
            'voiceconnect_sign_in_failures', 'sign-ins refused for a wrong name or password', registry=self.registry
        )
        for outcome in EndReason:
            self.calls.labels(str(outcome))  # present at 0 from the start: rate() needs the first sample
        for invitation in ('joined', *(str(r) for r in LeaveReason if r in INVITATION_OUTCOMES)):
            self.group_joins.labels(invitation)
        for result in ('accepted', 'rejected', 'dropped'):
            self.signals.labels(result)
        for limit in ('calls', 'signals', 'sign_in', 'sign_up', 'dnd_changes', 'searches', 'list_refreshes', 'mutes'):
            self.limited.labels(limit)

    def observe(self, happening: observe.Happening, fields: dict[str, Any]) -> None:
        if happening == 'call_rang':
            self.ring.observe(fields['seconds'])
        elif happening == 'call_ended':
            self.calls.labels(fields['outcome']).inc()
            if fields['duration_s'] is not None:
                self.duration.observe(fields['duration_s'])
        elif happening == 'signal':
            self.signals.labels(fields['result']).inc()
        elif happening == 'rate_limited':
            self.limited.labels(fields['limit']).inc()
        elif happening == 'group_join':
            self.group_joins.labels(fields['outcome']).inc()
        elif happening == 'sign_in_failed':
            self.sign_in_failures.inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)


_unsubscribe: Callable[[], None] | None = None


def install(backend: Backend) -> Metrics:
    """Serve /metrics for this backend (tests build the app more than once: the last one built is observed)."""
    global _unsubscribe
    if _unsubscribe is not None:
        _unsubscribe()
    metrics = Metrics(backend)
    _unsubscribe = observe.listen(metrics.observe)
    allowed = [ipaddress.ip_network(network, strict=False) for network in backend.settings.metrics_allow]

    @app.get('/metrics', include_in_schema=False)
    def serve_metrics(request: Request) -> Response:
        if not _allowed(request, allowed):
            return Response('metrics are served to METRICS_ALLOW only\n', status_code=403, media_type='text/plain')
        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _allowed(request: Request, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    host = request.client.host if request.client else None
    try:
        address = ipaddress.ip_address(host or '')
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)
