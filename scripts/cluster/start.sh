#!/bin/bash
# Starts etcd and the 3 Patroni/PostgreSQL nodes (versions: env.sh) on 127.0.0.1; waits for 1 leader + 2 streaming replicas.
# Usage: start.sh [--fresh]   (--fresh wipes data and etcd state first; refused while anything runs)
set -euo pipefail
D="$(cd "$(dirname "$0")" && pwd)"; . "$D/env.sh"; . "$D/lib.sh"
close_inherited_fds   # the daemons it starts must not hold a caller's pipes (a test harness waits for their end)
[ "$(id -u)" = 0 ] || { echo "start.sh: run as root (it drops to the postgres user)" >&2; exit 1; }
# PostgreSQL $PG_MAJOR and Patroni $PATRONI_VERSION (see env.sh): other versions than Debian's 15 and the default
# Patroni are installed on first use.
if [ ! -x "$VENV/bin/patroni" ] || [ ! -x "$PGBIN/postgres" ]; then
  [ "$PG_MAJOR" = 15 ] && [ "$PATRONI_VERSION" = 4.1.5 ] && {
    echo "start.sh: no Patroni at $VENV or no PostgreSQL at $PGBIN; run scripts/install-deps.sh first" >&2; exit 1; }
  bash "$D/install-version.sh"
fi
mkdir -p "$LAB"; chmod 755 "$LAB"
mkdir -p "$RUN"; chown postgres:postgres "$RUN"; chmod 700 "$RUN"
if [ "${1:-}" = "--fresh" ]; then
  for f in "$RUN"/*.pid; do [ -f "$f" ] && alive "$(cat "$f")" && { echo "start.sh: $f is running; run stop.sh first" >&2; exit 1; }; done
  # The repository's WAL archive belongs to the cluster that is wiped here: a new cluster starts a new one.
  rm -rf "$DATA" "$ETCD_DATA" "$RUN"/*.log "$RUN"/pgpass.* "$CONF" "$LAB/ts" "$LAB/pgbak/repo"
fi
"$D/gen-configs.sh" >/dev/null
T0=$(date +%s.%N)
start_etcd
for i in 1 2 3; do start_node "$i"; done
wait_healthy "${PGBAK_WAIT_TIMEOUT:-180}"
printf 'cluster started in %.1fs\n' "$(echo "$(date +%s.%N) - $T0" | bc)"
as_pg "$VENV/bin/patronictl" -c "$CONF/node1.yml" list
