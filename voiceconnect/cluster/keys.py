"""Every Redis key and channel VoiceConnect uses, in one place (all prefixed `vc:`; redis_hub.py and
redis_call_store.py say what each holds). SEP joins two names in one member of a set."""

PREFIX = 'vc:'
SEP = '\x1f'

# presence (redis_hub.py)
ONLINE = PREFIX + 'online'  # hash user → online | in_call | do_not_disturb
DND = PREFIX + 'dnd'  # set: online users with do not disturb on
LEASES = PREFIX + 'leases'  # sorted set user␟session → lease expiry
INSTANCES = PREFIX + 'instances'  # set: the processes that announced themselves
LOST = PREFIX + 'lost'  # sorted set user␟device → until when a dead process's tab may come back

# channels
PRESENCE = PREFIX + 'presence'
LOGOUT = PREFIX + 'logout'
USER_CHANNEL = PREFIX + 'user:'  # + user: calls, signaling and news for that user's tabs

# live calls (redis_call_store.py)
DEADLINES = PREFIX + 'deadlines'  # sorted set call id → deadline

# NiceGUI's own user and tab storage (NICEGUI_REDIS_KEY_PREFIX)
NICEGUI = PREFIX + 'nicegui:'


def sessions(user: str) -> str:
    """Set: the user's open sessions."""
    return f'{PREFIX}sessions:{user}'


def devices(user: str) -> str:
    """Hash device → {instance, reload key, at}: the user's tabs, wherever they are."""
    return f'{PREFIX}devices:{user}'


def devices_of(instance: str) -> str:
    """Set user␟device: the tabs one process holds."""
    return f'{PREFIX}devices-of:{instance}'


def lost(user: str) -> str:
    """Hash device → entry: the user's tabs of a process that died, waiting for their browsers."""
    return f'{PREFIX}lost:{user}'


def instance(name: str) -> str:
    """A process's heartbeat (a token of its run)."""
    return f'{PREFIX}instance:{name}'


def user_channel(user: str) -> str:
    return USER_CHANNEL + user


def call(call_id: str) -> str:
    """A live call as JSON."""
    return f'{PREFIX}call:{call_id}'


def in_call(user: str) -> str:
    """The id of the live call the user is in."""
    return f'{PREFIX}in-call:{user}'
