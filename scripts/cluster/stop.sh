#!/bin/bash
# Stops the 3 Patroni nodes of the test cluster (replicas in parallel first, leader last), orphan postmasters, then etcd.
# Only PIDs recorded in $RUN/*.pid (and postmaster.pid of our own data dirs) are signalled.
set -uo pipefail
D="$(cd "$(dirname "$0")" && pwd)"; . "$D/env.sh"; . "$D/lib.sh"
t0=$(date +%s.%N)
leader=$(cluster_summary "$(api_port 1)" | sed -n 's/^leader=\(node[0-9]\).*/\1/p')
pids=()
for i in 1 2 3; do [ "node$i" = "$leader" ] && continue; stop_node $i & pids+=($!); done
wait "${pids[@]}" 2>/dev/null
[ -n "$leader" ] && stop_node "${leader#node}"
stop_etcd
printf 'stopped in %.1fs; leftover lab processes:\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
ps -eo pid,user,cmd | grep -E "$VENV/bin/patroni|/usr/bin/etcd |$PGBIN/postgres -D $DATA|postgres: $SCOPE:" | grep -v grep || echo "  none"
