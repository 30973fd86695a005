#!/bin/bash
# Failover drills against the running test cluster (switchover, leader stop, crash, reinit). Prints timings.
set -uo pipefail
D="$(cd "$(dirname "$0")" && pwd)"; . "$D/env.sh"; . "$D/lib.sh"
close_inherited_fds
PCTL="$VENV/bin/patronictl -c $CONF/node1.yml"
now() { date +%s.%N; }
el() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
leader() { local i s l; for i in 1 2 3; do s=$(cluster_summary "$(api_port $i)"); l=$(echo "$s" | sed -n 's/^leader=\(node[0-9]\).*/\1/p'); [ -n "$l" ] && { echo "$l"; return; }; done; }
wait_new_leader() {  # $1 old leader; prints seconds until a different node is leader AND accepts writes
  local old=$1 t0=$2 l port
  while :; do
    l=$(leader)
    if [ -n "$l" ] && [ "$l" != "$old" ]; then
      port=$(pg_port ${l#node})
      if PGPASSWORD=$SU_PASS psql -h 127.0.0.1 -p $port -U postgres -qAtc "select pg_is_in_recovery()" 2>/dev/null | grep -q f; then
        echo "new leader $l writable after $(el $t0)s"; return 0; fi
    fi
    [ "$(echo "$(now) - $t0 > 90" | bc)" = 1 ] && { echo "timeout waiting new leader"; return 1; }
    sleep 0.2
  done
}
writeload() { PGPASSWORD=$SU_PASS psql -h 127.0.0.1 -p $(pg_port ${1#node}) -U postgres -d app2 -qc "create table if not exists fo(ts timestamptz default now(), n int); insert into fo(n) select g from generate_series(1,50000) g" >/dev/null; }

case "${1:-}" in
switchover)
  old=$(leader); cand=${2:-}; [ -z "$cand" ] && cand=$(for i in 1 2 3; do [ node$i != $old ] && echo node$i && break; done)
  echo "switchover $old -> $cand"; t0=$(now)
  $PCTL switchover --leader "$old" --candidate "$cand" --force 2>&1 | tail -2
  echo "patronictl returned after $(el $t0)s"; wait_new_leader "$old" "$t0"; wait_healthy 120 ;;
sigterm)  # graceful stop of leader's patroni (it shuts PG down and releases the leader key)
  old=$(leader); i=${old#node}; writeload $old; pid=$(cat $RUN/patroni.node$i.pid)
  echo "SIGTERM patroni of leader $old pid $pid"; t0=$(now); kill -TERM $pid
  wait_new_leader "$old" "$t0"
  while kill -0 $pid 2>/dev/null; do sleep 0.1; done; echo "old patroni exited after $(el $t0)s"
  rm -f $RUN/patroni.node$i.pid; t1=$(now); start_node $i && wait_healthy 120 && echo "$old rejoined as replica $(el $t1)s after restart" ;;
crash)    # node crash: SIGKILL leader's patroni AND its postmaster (+children) -> leader key must expire (ttl)
  old=$(leader); i=${old#node}; writeload $old; pid=$(cat $RUN/patroni.node$i.pid); pm=$(head -1 $DATA/node$i/postmaster.pid)
  echo "SIGKILL patroni $pid + postmaster $pm of leader $old"; t0=$(now)
  kill -KILL $pid; kill -KILL $pm      # backends exit when postmaster dies
  wait_new_leader "$old" "$t0"
  rm -f $RUN/patroni.node$i.pid; sleep 1; t1=$(now); start_node $i && wait_healthy 180 && echo "$old rejoined as replica $(el $t1)s after restart"
  grep -hE 'pg_rewind|rewind' $RUN/patroni.node$i.log | tail -5 ;;
kill)     # like crash, but the old leader stays down (node.sh start N brings it back); prints its name last
  old=$(leader); i=${old#node}; pid=$(cat $RUN/patroni.node$i.pid); pm=$(head -1 $DATA/node$i/postmaster.pid)
  t0=$(now); kill -KILL $pid; kill -KILL $pm
  wait_new_leader "$old" "$t0" >&2 && rm -f $RUN/patroni.node$i.pid && echo "$old"; exit ;;
killpatroni) # SIGKILL only the leader's patroni; its postmaster keeps running as an unmanaged primary
  old=$(leader); i=${old#node}; pid=$(cat $RUN/patroni.node$i.pid); pm=$(head -1 $DATA/node$i/postmaster.pid)
  echo "SIGKILL patroni $pid of leader $old (postmaster $pm left running)"; t0=$(now); kill -KILL $pid
  wait_new_leader "$old" "$t0"
  echo -n "old postmaster alive? "; kill -0 $pm 2>/dev/null && echo yes || echo no
  echo -n "old primary still writable? "; PGPASSWORD=$SU_PASS psql -h 127.0.0.1 -p $(pg_port $i) -U postgres -qAtc "select not pg_is_in_recovery()" 2>&1
  rm -f $RUN/patroni.node$i.pid; t1=$(now); start_node $i && wait_healthy 180 && echo "$old rejoined as replica $(el $t1)s after restart"
  grep -hE 'rewind|demot|running as|postmaster pid' $RUN/patroni.node$i.log | tail -6 ;;
reinit)
  n=${2:-node3}; t0=$(now); $PCTL reinit "$SCOPE" "$n" --force --wait 2>&1 | tail -2; echo "reinit --wait returned $(el $t0)s"
  wait_healthy 300; echo "reinit $n total (until streaming) $(el $t0)s" ;;
healthy)  wait_healthy "${2:-180}" ;;
*) echo "usage: $0 switchover [cand]|sigterm|crash|kill|killpatroni|reinit [node]|healthy [seconds]"; exit 1;;
esac
$PCTL list
