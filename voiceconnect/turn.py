"""TURN with time-limited credentials: coturn's REST API scheme (`use-auth-secret`), as Matrix homeservers, Jitsi
and Nextcloud Talk use it.

The server shares one secret with coturn (`static-auth-secret`) and never gives it to a browser. Each signed-in
user gets a username `<expiry>:<user>` (expiry in Unix seconds) and the credential base64(HMAC-SHA1(secret,
username)); coturn recomputes the credential and refuses it after the expiry. A copied credential is good for
one TTL at most, and says whose it was.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

RENEW_AT = 0.8  # of the TTL: fresh credentials reach a tab in a call before the old ones run out


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    credential: str
    expires_at: int


def turn_credentials(secret: str, user: str, ttl_s: int, now: float) -> TurnCredentials:
    expires_at = int(now) + ttl_s
    username = f'{expires_at}:{user}'
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredentials(username, base64.b64encode(digest).decode(), expires_at)


@dataclass(frozen=True)
class IcePolicy:
    """What a tab's peer connections are configured with: the settings' ICE servers, plus the TURN servers with
    credentials of the tab's user when TURN_URLS and TURN_SECRET are set."""

    ice_servers: list[dict[str, Any]]
    transport_policy: str = 'all'  # 'relay': only relayed candidates (through TURN)
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    turn_ttl_s: int = 3600

    @property
    def renews(self) -> bool:
        return bool(self.turn_urls and self.turn_secret)

    def for_user(self, user: str, now: float) -> dict[str, Any]:
        """The RTCConfiguration a tab of `user` gets now (JSON for the browser module); `expires_at` is when its
        TURN credentials run out (None without TURN credentials)."""
        servers = list(self.ice_servers)
        expires_at = None
        if self.turn_urls and self.turn_secret:
            issued = turn_credentials(self.turn_secret, user, self.turn_ttl_s, now)
            servers.append({'urls': list(self.turn_urls), 'username': issued.username, 'credential': issued.credential})
            expires_at = issued.expires_at
        return {'iceServers': servers, 'iceTransportPolicy': self.transport_policy, 'expires_at': expires_at}

    def renew_after_s(self) -> float:
        return self.turn_ttl_s * RENEW_AT
