"""`python main.py` on a machine whose clock is SKEW_S ahead: what a process in a container with a drifting clock,
or without NTP, sees. Test only (tests/security/test_redis.py)."""

import runpy
import sys
import time
from pathlib import Path

SKEW_S = 25.0  # more than the grace (20 s) and the ring timeout the test uses

_machine_time = time.time
time.time = lambda: _machine_time() + SKEW_S
sys.path.insert(0, str(Path.cwd()))
runpy.run_path('main.py', run_name='__main__')
