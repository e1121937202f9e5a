#!/usr/bin/env bash
# Several VoiceConnect processes behind HAProxy, sharing one Redis:   scripts/cluster.sh N [--janus]   (N ≥ 1, default 2)
#
# Starts Redis (Debian's redis-server on a free loopback port, unless REDIS_URL is set), N app processes
# (instances app1…appN on free loopback ports, all with VOICECONNECT_REDIS_URL and one shared data dir) and HAProxy
# on HOST:PORT with cookie stickiness (a browser's page and socket stay on the process that served the page) and
# /healthz checks (a browser whose process died goes to another one). An app process that dies is started again a
# second later. Ctrl-C stops them all. Each app's log goes to the terminal, each line prefixed with its instance.
#
# Settings are main.py's: VOICECONNECT_* from the environment, else from .env, else the defaults; HOST, PORT and
# REDIS_URL are the app's VOICECONNECT_HOST (127.0.0.1), VOICECONNECT_PORT (8080) and VOICECONNECT_REDIS_URL, and
# stand in for them when those are not in the environment. Every VOICECONNECT_* also reaches each app process.
# CLUSTER_DIR: where the pids, logs and the generated haproxy.cfg go (default a new temporary directory).
# --janus: Janus Gateway too (Debian's janus, AudioBridge for group calls) with a configuration written here (fresh
# secrets, its WebSocket API on a free loopback port), and VOICECONNECT_JANUS_URL, _API_SECRET, _ADMIN_KEY for the
# apps; stopped after them. Debian's /etc/janus (public admin secret, demo room) is never used.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
with_janus=''
if [ "${1:-}" = "--janus" ]; then
  with_janus=1
  shift
elif [ "${2:-}" = "--janus" ]; then
  with_janus=1
  set -- "$1"
fi
n=${1:-2}
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
  echo "scripts/cluster.sh: N must be a whole number of processes, 1 or more, not '$n'" >&2
  exit 2
fi
if ! command -v haproxy >/dev/null || [ ! -x .venv/bin/python ]; then
  bash scripts/bootstrap.sh --cluster
fi
if [ -n "$with_janus" ] && ! command -v janus >/dev/null; then
  bash scripts/bootstrap.sh --janus
fi
# the short names stand in for the app's own (which win when both are set)
if [ -n "${HOST:-}" ]; then export VOICECONNECT_HOST=${VOICECONNECT_HOST:-$HOST}; fi
if [ -n "${PORT:-}" ]; then export VOICECONNECT_PORT=${VOICECONNECT_PORT:-$PORT}; fi
if [ -n "${REDIS_URL:-}" ]; then export VOICECONNECT_REDIS_URL=${VOICECONNECT_REDIS_URL:-$REDIS_URL}; fi
# What main.py would read (environment, .env, defaults), checked as main.py checks it: a bad value, a data dir that
# cannot be written, a front port in use or an unreachable Redis stops here with main.py's one line, exit status 2.
# The storage secret is made here once, for all the processes (a session cookie made by one is read by the others).
settings=$(.venv/bin/python - <<'PY'
import sys

from voiceconnect.startup import CannotStart, exit_line, read_settings
from voiceconnect.startup import data_dir_problem, port_problem, redis_url_problem

try:
    settings = read_settings()
    for check in (data_dir_problem, port_problem, redis_url_problem):
        if (problem := check(settings)) is not None:
            raise CannotStart(problem)
except CannotStart as error:
    print(exit_line(error), file=sys.stderr)
    sys.exit(2)
print(settings.host, settings.port, settings.redis_url or '-', settings.effective_storage_secret)
PY
) || exit $?
read -r host port REDIS_URL VOICECONNECT_STORAGE_SECRET <<<"$settings"
export VOICECONNECT_STORAGE_SECRET
[ "$REDIS_URL" != - ] || REDIS_URL=''
if [ -z "$REDIS_URL" ] && ! command -v redis-server >/dev/null; then
  bash scripts/bootstrap.sh --cluster
fi
run_dir=${CLUSTER_DIR:-$(mktemp -d -t voiceconnect-cluster.XXXXXX)}
mkdir -p "$run_dir"

pids=()       # HAProxy, the apps, the log tail: stopped first (the apps stop gracefully, while Redis still answers)
redis_pid=''  # then Redis
janus_pid=''  # and Janus
stop_all() {
  trap - EXIT INT TERM
  echo "Stopping VoiceConnect…"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$janus_pid" ]; then
    kill -TERM "$janus_pid" 2>/dev/null || true
    wait "$janus_pid" 2>/dev/null || true
  fi
  if [ -n "$redis_pid" ]; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}
trap stop_all EXIT INT TERM

free_port() { .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() {  # what, then a command that succeeds once it is up
  local what=$1
  shift
  for _ in $(seq 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "scripts/cluster.sh: $what did not come up; see $run_dir" >&2
  exit 1
}
healthy() { .venv/bin/python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1"; }

if [ -z "$REDIS_URL" ]; then
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$run_dir" \
    >"$run_dir/redis.log" 2>&1 &
  redis_pid=$!
  echo $! >"$run_dir/redis.pid"
  REDIS_URL=redis://127.0.0.1:$redis_port/0
  wait_for "redis-server on port $redis_port" redis-cli -p "$redis_port" ping
fi

janus_note=''
if [ -n "$with_janus" ]; then
  janus_port=$(free_port)
  # the URL, the API secret and the AudioBridge admin key, one a line; the files hold the secrets, mode 0700
  mapfile -t janus_config < <(.venv/bin/python -m voiceconnect.bridge.janus_config "$run_dir/janus" --port "$janus_port")
  janus --configs-folder="$run_dir/janus/conf" --config="$run_dir/janus/conf/janus.jcfg" >"$run_dir/janus.log" 2>&1 &
  janus_pid=$!
  echo $! >"$run_dir/janus.pid"
  export VOICECONNECT_JANUS_URL=${janus_config[0]} VOICECONNECT_JANUS_API_SECRET=${janus_config[1]}
  export VOICECONNECT_JANUS_ADMIN_KEY=${janus_config[2]}
  wait_for "janus on port $janus_port (log: $run_dir/janus.log)" bash -c "exec 3<>/dev/tcp/127.0.0.1/$janus_port"
  janus_note=", Janus $VOICECONNECT_JANUS_URL"
fi

supervise() {  # instance number, port: run that app process, and start it again whenever it dies (as systemd would)
  local i=$1 app_port=$2 child=''
  trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    VOICECONNECT_REDIS_URL=$REDIS_URL VOICECONNECT_INSTANCE=app$i VOICECONNECT_HOST=127.0.0.1 \
      VOICECONNECT_PORT=$app_port PYTHONUNBUFFERED=1 .venv/bin/python main.py >>"$run_dir/app$i.log" 2>&1 &
    child=$!
    echo "$child" >"$run_dir/app$i.pid"
    wait "$child" || true
    echo "[app$i] the process ended; starting it again in 1 s" >>"$run_dir/app$i.log"
    sleep 1
  done
}

servers=''
for i in $(seq "$n"); do
  app_port=$(free_port)
  echo "$app_port" >"$run_dir/app$i.port"
  supervise "$i" "$app_port" &
  pids+=($!)
  servers+="    server app$i 127.0.0.1:$app_port check cookie app$i"$'\n'
done
for i in $(seq "$n"); do
  wait_for "app$i (log: $run_dir/app$i.log)" healthy "http://127.0.0.1:$(cat "$run_dir/app$i.port")/healthz"
done

cat >"$run_dir/haproxy.cfg" <<CFG
global
    maxconn 8000            # two file descriptors each (browser and app); 1,000 tabs need 2,000

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h       # NiceGUI's socket stays open for the life of the page
    option redispatch 1     # a browser whose process died is sent to another one at the first retry (HAProxy
    retries 1               # waits a second before retrying the same server; another one it tries at once)

frontend voiceconnect
    bind $host:$port
    default_backend apps

backend apps
    balance roundrobin
    # stickiness by cookie: each browser's page and socket reach the process that holds the page's state
    cookie SRV insert indirect nocache httponly
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
$servers
CFG
haproxy -f "$run_dir/haproxy.cfg" -db >"$run_dir/haproxy.log" 2>&1 &
pids+=($!)
echo $! >"$run_dir/haproxy.pid"
wait_for "HAProxy on $host:$port (log: $run_dir/haproxy.log)" healthy "http://$host:$port/healthz"

echo "VoiceConnect: $n processes on http://$host:$port (HAProxy), Redis $REDIS_URL$janus_note; pids, logs, haproxy.cfg in $run_dir"
echo "Ctrl-C stops them all."
tail -q -n +1 -F "$run_dir"/app*.log &
pids+=($!)
haproxy_pid=$(cat "$run_dir/haproxy.pid")
wait "$haproxy_pid"  # until HAProxy stops; an app process dying is what the others are there for
