#!/usr/bin/env bash
# Make sure a Redis answers at REDIS_URL (default redis://localhost:6379), for `make run`.
# If none does and the URL is local, start a private, throw-away redis-server (state in .run/).
set -euo pipefail

cd "$(dirname "$0")/.."
REDIS_URL="${REDIS_URL:-redis://localhost:6379}"
PYTHON="${PYTHON:-.venv/bin/python}"

# redis://[user[:password]@]host[:port][/db] -> host, port
rest="${REDIS_URL#*://}"
rest="${rest%%/*}"
rest="${rest##*@}"
if [[ "$rest" == \[* ]]; then            # [ipv6]:port
    host="${rest%%]*}"; host="${host#[}"
    port="${rest##*]}"; port="${port#:}"
else
    host="${rest%%:*}"
    port="${rest#"$host"}"; port="${port#:}"
fi
host="${host:-localhost}"
port="${port:-6379}"

redis_answers() {
    if [[ -x "$PYTHON" ]]; then
        "$PYTHON" -c 'import redis, sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1, socket_timeout=1).ping()' \
            "$REDIS_URL" >/dev/null 2>&1
    elif command -v redis-cli >/dev/null 2>&1; then
        [[ "$(redis-cli -h "$host" -p "$port" ping 2>/dev/null)" == "PONG" ]]
    else
        return 1
    fi
}

if redis_answers; then
    exit 0
fi

bind=127.0.0.1
case "$host" in
    localhost|127.0.0.1) local_host=1 ;;
    ::1) local_host=1; bind=::1 ;;
    *) local_host=0 ;;
esac

if [[ "$local_host" == 1 ]] && command -v redis-server >/dev/null 2>&1; then
    mkdir -p .run
    echo "Starting a private redis-server on $bind port $port (pid file .run/redis.pid, log .run/redis.log)" >&2
    redis-server --port "$port" --bind "$bind" --save "" --appendonly no --daemonize yes \
        --dir .run --pidfile "$PWD/.run/redis.pid" --logfile "$PWD/.run/redis.log"
    for _ in $(seq 1 50); do
        if redis_answers; then
            exit 0
        fi
        sleep 0.1  # poll interval of a bounded (5 s) wait for the server to accept connections
    done
    echo "redis-server did not answer on $bind port $port within 5 s; see .run/redis.log" >&2
    exit 1
fi

echo "No Redis at $REDIS_URL: install redis-server (apt-get install redis-server) or set REDIS_URL to a running Redis." >&2
exit 1
