"""TURN credentials in coturn's REST API scheme, and the RTCConfiguration a tab gets (coturn itself checks them in
tests/e2e/test_turn.py)."""

import base64
import hashlib
import hmac

from voiceconnect.turn import IcePolicy, turn_credentials

STUN = {'urls': 'stun:stun.example.org:3478'}


def test_the_username_is_expiry_and_user_and_the_credential_its_hmac_sha1() -> None:
    issued = turn_credentials('s3cret', 'alice', 3600, now=1_700_000_000.7)
    assert issued.username == '1700003600:alice'
    assert issued.expires_at == 1_700_003_600
    expected = hmac.new(b's3cret', b'1700003600:alice', hashlib.sha1).digest()
    assert base64.b64decode(issued.credential) == expected
    assert 's3cret' not in issued.credential


def test_a_tab_gets_the_ice_servers_plus_turn_with_its_users_credentials() -> None:
    policy = IcePolicy([STUN], 'relay', ('turn:t.example.org:3478',), 's3cret', 600)
    config = policy.for_user('bob', now=1000)
    assert config['iceTransportPolicy'] == 'relay'
    assert config['expires_at'] == 1600
    stun, turn = config['iceServers']
    assert stun == STUN
    assert turn['urls'] == ['turn:t.example.org:3478']
    assert turn['username'] == '1600:bob'
    assert turn['credential'] == turn_credentials('s3cret', 'bob', 600, 1000).credential
    assert 's3cret' not in repr(config)


def test_without_turn_settings_the_ice_servers_pass_as_they_are() -> None:
    policy = IcePolicy([STUN])
    assert policy.for_user('bob', now=1000) == {'iceServers': [STUN], 'iceTransportPolicy': 'all', 'expires_at': None}
    assert not policy.renews


def test_credentials_are_renewed_well_before_they_expire() -> None:
    policy = IcePolicy([], 'all', ('turn:t:3478',), 'k', 3600)
    assert policy.renews
    assert 0 < policy.renew_after_s() <= 3600 * 0.9
