# Functions of the test cluster scripts; source after env.sh.
as_pg() {  # exec a command as the postgres OS user, same PID (no fork), clean env
  setpriv --reuid=postgres --regid=postgres --init-groups \
    env -i HOME=/var/lib/postgresql LANG=C.UTF-8 LC_ALL=C.UTF-8 \
        PATH="$VENV/bin:$PGBIN:/usr/bin:/bin" "$@"
}
# Closes every descriptor above stderr: a daemon started from a test harness must not hold the harness's pipes
# (the harness would wait for their end forever).
close_inherited_fds() {
  local fd
  for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done; return 0
}
port_busy() { ss -Hltn "sport = :$1" | grep -q .; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
is_cmd() { alive "$1" && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"; }  # guards against PID reuse
pidof_file() { [ -f "$1" ] && cat "$1" || true; }

start_etcd() {
  local pid; pid=$(pidof_file "$RUN/etcd.pid")
  if alive "$pid"; then echo "etcd already running pid $pid"; return 0; fi
  for p in $ETCD_CLIENT_PORT $ETCD_PEER_PORT; do port_busy $p && { echo "port $p busy" >&2; return 1; }; done
  mkdir -p "$ETCD_DATA"; chown postgres:postgres "$ETCD_DATA"; chmod 700 "$ETCD_DATA"
  setsid setpriv --reuid=postgres --regid=postgres --init-groups env -i HOME=/var/lib/postgresql \
    /usr/bin/etcd --name lab-etcd --data-dir "$ETCD_DATA" \
      --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
      --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
      --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster "lab-etcd=http://127.0.0.1:$ETCD_PEER_PORT" \
      --initial-cluster-state new --initial-cluster-token pgbak-lab \
      > "$RUN/etcd.log" 2>&1 < /dev/null &
  echo $! > "$RUN/etcd.pid"
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$ETCD_CLIENT_PORT/health" 2>/dev/null | grep -q '"health":"true"' && { echo "etcd up pid $(cat "$RUN/etcd.pid")"; return 0; }
    sleep 0.1
  done
  echo "etcd did not become healthy; see $RUN/etcd.log" >&2; return 1
}

start_node() {  # $1 = 1..3
  local i=$1 pid; pid=$(pidof_file "$RUN/patroni.node$i.pid")
  if alive "$pid"; then echo "node$i already running pid $pid"; return 0; fi
  # PG port may legitimately be held by this node's own (orphaned) postmaster: patroni adopts it
  local pm=""; [ -f "$DATA/node$i/postmaster.pid" ] && pm=$(head -1 "$DATA/node$i/postmaster.pid")
  alive "$pm" || { port_busy "$(pg_port $i)" && { echo "port $(pg_port $i) busy" >&2; return 1; }; }
  port_busy "$(api_port $i)" && { echo "port $(api_port $i) busy" >&2; return 1; }
  mkdir -p "$DATA"; chown postgres:postgres "$DATA"; chmod 700 "$DATA"
  install -d -o postgres -g postgres -m 0755 "$TBLSPC" "$LAB/ts" "$LAB/ts/node$i"
  # Patroni runs under reaper.py, which reaps the orphaned postmaster the moment it exits (as systemd would; this
  # VM's init takes up to ~1.5 s, and Patroni waits for that on every stop) and records Patroni's own PID.
  rm -f "$RUN/patroni.node$i.pid"
  install -o postgres -g postgres -m 0755 "$CLUSTER_SCRIPTS/reaper.py" "$RUN/reaper.py"
  setsid unshare --mount --propagation private -- /bin/bash -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' _ \
    "$LAB/ts/node$i" "$TBLSPC" \
    setpriv --reuid=postgres --regid=postgres --init-groups \
    env -i HOME=/var/lib/postgresql LANG=C.UTF-8 LC_ALL=C.UTF-8 PATH="$VENV/bin:$PGBIN:/usr/bin:/bin" \
    python3 "$RUN/reaper.py" "$RUN/patroni.node$i.pid" \
    "$VENV/bin/patroni" "$CONF/node$i.yml" >> "$RUN/patroni.node$i.log" 2>&1 < /dev/null &
  for _ in $(seq 1 100); do [ -s "$RUN/patroni.node$i.pid" ] && break; sleep 0.05; done
  [ -s "$RUN/patroni.node$i.pid" ] || { echo "node$i: Patroni did not start; see $RUN/patroni.node$i.log" >&2; return 1; }
  echo "node$i patroni pid $(cat "$RUN/patroni.node$i.pid")"
}

stop_node() {  # graceful: SIGTERM patroni (it stops postgres), then clean any orphan postmaster
  local i=$1 pid t0=$(date +%s.%N); pid=$(pidof_file "$RUN/patroni.node$i.pid")
  if is_cmd "$pid" "node$i.yml"; then
    kill -TERM "$pid"
    for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && { echo "node$i patroni $pid still alive, SIGKILL"; kill -KILL "$pid"; }
    printf 'node%s patroni %s stopped in %.1fs\n' "$i" "$pid" "$(echo "$(date +%s.%N) - $t0" | bc)"
  fi
  rm -f "$RUN/patroni.node$i.pid"
  # orphaned postmaster (e.g. patroni was SIGKILLed): stop it via its own data dir
  if [ -f "$DATA/node$i/postmaster.pid" ]; then
    local pm; pm=$(head -1 "$DATA/node$i/postmaster.pid")
    if is_cmd "$pm" "$DATA/node$i"; then echo "node$i orphan postmaster $pm -> pg_ctl stop -m fast"; as_pg "$PGBIN/pg_ctl" -D "$DATA/node$i" -m fast -w stop; fi
  fi
}

stop_etcd() {
  local pid; pid=$(pidof_file "$RUN/etcd.pid")
  if is_cmd "$pid" "$ETCD_DATA"; then kill -TERM "$pid"; for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid"; fi
  rm -f "$RUN/etcd.pid"
}

# prints "leader=<name> streaming=<n> members=<n>" from a /cluster endpoint
cluster_summary() {
  api_get "$(( ${1:-$API_PORT_BASE} - API_PORT_BASE + 1 ))" /cluster 2>/dev/null | python3 -c '
import json,sys
try: d=json.load(sys.stdin)
except Exception: print("leader=none streaming=0 members=0"); sys.exit()
m=d.get("members",[])
L=[x["name"] for x in m if x.get("role")=="leader" and x.get("state")=="running"]
S=[x for x in m if x.get("role") in ("replica","sync_standby") and x.get("state")=="streaming"]
print("leader=%s streaming=%d members=%d" % (L[0] if L else "none", len(S), len(m)))' || true
}

# number of walsenders in state "streaming" as reported by the leader's own /patroni (pg_stat_replication)
leader_streaming() { api_get "${1#node}" /patroni 2>/dev/null | python3 -c '
import json,sys
try: d=json.load(sys.stdin)
except Exception: print(0); sys.exit()
print(sum(1 for r in d.get("replication",[]) if r.get("state")=="streaming") if d.get("role") in ("primary", "master") else 0)' || echo 0; }

wait_healthy() {  # wait until DCS shows 1 leader + 2 streaming AND leader's pg_stat_replication has 2 streaming; $1 = timeout s
  local t0=$(date +%s.%N) deadline=$(( $(date +%s) + ${1:-120} )) s l i
  while [ "$(date +%s)" -lt "$deadline" ]; do
    for i in 1 2 3; do
      s=$(cluster_summary "$(api_port $i)" || true)
      case "$s" in leader=node*" streaming=2 members=3")
        l=${s#leader=}; l=${l%% *}
        if [ "$(leader_streaming $l)" = 2 ]; then
          printf '%s after %.1fs\n' "$s" "$(echo "$(date +%s.%N) - $t0" | bc)"; return 0; fi;; esac
    done
    sleep 0.5
  done
  echo "not healthy: $s" >&2; return 1
}
