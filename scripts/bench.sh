#!/bin/bash
# Benchmark: pgbak now against the raw PostgreSQL tools doing the same work, on the running test cluster.
# Usage: scripts/bench.sh [SCALE=100] [RUNS=3]   (as root; start the cluster first: scripts/cluster/start.sh)
# SKIP_RESEED=1 leaves out the replica re-seeding comparison.
# Loads pgbench at SCALE into database "bench" plus a small database "small", then runs, alternating, RUNS times each:
#   raw-physical  pg_basebackup -Ft -X stream --compress=client-zstd:level=3,workers=2 -c fast
#   raw-logical   pg_dump -Fc -Z0 | zstd -3 -T2, per database, one after another, plus pg_dumpall --globals-only
#   pgbak         pgbak now (physical + logical, safe defaults: fsync and checksum verification on)
#   verify        pgbak verify (default level) vs zstd -t + sha256sum over the same files
#   re-seed       pgbak restore --node vs patronictl reinit --from-leader, each until the replica streams
# and prints median (min-max) wall time, peak RSS and bytes written, with the ratios to the raw tools.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; cd "$ROOT"
. scripts/cluster/env.sh
SCALE=${1:-100}; RUNS=${2:-3}
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
swift build -c release >/dev/null
install -d -m 0755 "$LAB/bin"; install -m 0755 "$(swift build -c release --show-bin-path)/pgbak" "$LAB/bin/pgbak"
CONFIG=$(bash scripts/cluster/write-pgbak-config.sh 1)
OUT="$LAB/bench"; rm -rf "$OUT"; install -d -o postgres -g postgres -m 0700 "$OUT"
LEADER_PORT=$(api_get 1 /cluster | jq -r '.members[] | select(.role=="leader") | .port')
export PGHOST=127.0.0.1 PGPORT=$LEADER_PORT PGUSER=postgres PGPASSWORD=$SU_PASS
have=$(psql -qAtc "select count(*) from pg_database where datname='bench'")
rows=0; [ "$have" = 1 ] && rows=$(psql -d bench -qAtc "select count(*) from pgbench_branches" 2>/dev/null || echo 0)
if [ "$rows" != "$SCALE" ]; then
  echo "loading pgbench scale $SCALE ..."
  psql -qc "drop database if exists bench with (force)" -c "create database bench"
  pgbench -i -s "$SCALE" -q bench >/dev/null 2>&1
fi
psql -qAtc "select 1 from pg_database where datname='small'" | grep -q 1 || {
  psql -qc "create database small"
  psql -d small -qc "create table t as select g id, md5(g::text) v from generate_series(1,100000) g"; }
DBS=$(psql -qAtc "select datname from pg_database where not datistemplate and datallowconn order by 1")
REPL_PASSFILE="$LAB/pgbak/cluster.pgpass"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

# Each run prints "seconds rss_kb bytes".
raw_physical() {
  local d="$OUT/raw-physical"; rm -rf "$d"
  local t0=$(date +%s.%N)
  env -u PGPASSWORD PGPASSFILE="$REPL_PASSFILE" setpriv --reuid=postgres --regid=postgres --init-groups /usr/bin/time -f %M -o "$OUT/rss" /usr/lib/postgresql/15/bin/pg_basebackup \
    -h 127.0.0.1 -p "$LEADER_PORT" -U replicator -w -D "$d" -Ft -X stream -c fast \
    --compress=client-zstd:level=3,workers=2
  echo "$(echo "$(date +%s.%N) - $t0" | bc) $(cat "$OUT/rss") $(du -sb "$d" | cut -f1)"
}
raw_logical() {
  local d="$OUT/raw-logical"; rm -rf "$d"; install -d -o postgres -m 0700 "$d"
  local t0=$(date +%s.%N) rss=0 r
  for db in $DBS; do
    as_pg bash -c "PGPASSWORD='$SU_PASS' /usr/bin/time -f %M -o '$d/rss.$db' pg_dump -h 127.0.0.1 -p $LEADER_PORT \
      -U postgres -Fc -Z0 '$db' | /usr/bin/time -f %M -o '$d/zrss.$db' zstd -q -3 -T2 -o '$d/$db.dump.zst'"
    for r in $(cat "$d/rss.$db" "$d/zrss.$db"); do [ "$r" -gt "$rss" ] && rss=$r; done
  done
  as_pg bash -c "PGPASSWORD='$SU_PASS' pg_dumpall -h 127.0.0.1 -p $LEADER_PORT -U postgres --globals-only | zstd -q -3 -o '$d/globals.sql.zst'"
  rm -f "$d"/rss.* "$d"/zrss.*
  echo "$(echo "$(date +%s.%N) - $t0" | bc) $rss $(du -sb "$d" | cut -f1)"
}
pgbak_now() {
  local t0=$(date +%s.%N) hwm=0 h
  # setpriv execs pgbak, so $! is pgbak's own PID and VmHWM is pgbak's peak RSS (children excluded).
  PGBAK_DUMP_PASSWORD=$SU_PASS setpriv --reuid=postgres --regid=postgres --init-groups \
    "$LAB/bin/pgbak" now --quiet --config "$CONFIG" > "$OUT/pgbak.out" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0); [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
    sleep 0.05
  done
  wait "$pid"
  local t=$(echo "$(date +%s.%N) - $t0" | bc)
  local id; id=$(ls "$LAB/pgbak/repo/backups" | tail -1)
  local m="$LAB/pgbak/repo/backups/$id/manifest.json"
  echo "$t $hwm $(du -sb "$LAB/pgbak/repo/backups/$id" | cut -f1) $(jq .physical.seconds "$m") $(jq .logical.seconds "$m") $(du -sb "$LAB/pgbak/repo/backups/$id/physical" | cut -f1)"
}

as_pg_pgbak() { setpriv --reuid=postgres --regid=postgres --init-groups "$LAB/bin/pgbak" "$@"; }
PCTL="$VENV/bin/patronictl -c $CONF/node1.yml"
replica_name() { api_get 1 /cluster | jq -r '[.members[] | select(.role!="leader")][0].name'; }
wait_streaming() {  # $1 member: until Patroni reports it streaming again
  for _ in $(seq 1 1200); do
    [ "$(api_get 1 /cluster | jq -r ".members[] | select(.name==\"$1\") | .state")" = streaming ] && return 0
    sleep 0.1
  done; return 1; }
# Re-seed a replica until it streams: pgbak restore --node (from the newest backup) vs patronictl reinit
# --from-leader (pg_basebackup from the leader, bypassing pgbak's replica method).
reseed_pgbak() {
  local r t0; r=$(replica_name); t0=$(date +%s.%N)
  as_pg_pgbak restore --node "$r" --quiet --config "$CONFIG" >/dev/null
  wait_streaming "$r"; echo "$(echo "$(date +%s.%N) - $t0" | bc) 0 0"
}
reseed_reinit() {
  local r t0; r=$(replica_name); t0=$(date +%s.%N)
  $PCTL reinit "$SCOPE" "$r" --from-leader --force --wait >/dev/null 2>&1
  sleep 0.5; wait_streaming "$r"; echo "$(echo "$(date +%s.%N) - $t0" | bc) 0 0"
}
# Verification of the newest backup: pgbak verify (default level) vs zstd -t + sha256sum over the same files.
verify_pgbak() {
  local t0=$(date +%s.%N) hwm=0 h id; id=$(ls "$LAB/pgbak/repo/backups" | tail -1)
  setpriv --reuid=postgres --regid=postgres --init-groups "$LAB/bin/pgbak" verify "$id" --quiet --config "$CONFIG" >/dev/null &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    h=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0); [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
    sleep 0.05
  done
  wait "$pid"; echo "$(echo "$(date +%s.%N) - $t0" | bc) $hwm $(du -sb "$LAB/pgbak/repo/backups/$id" | cut -f1)"
}
verify_raw() {
  local id d t0=$(date +%s.%N); id=$(ls "$LAB/pgbak/repo/backups" | tail -1); d="$LAB/pgbak/repo/backups/$id"
  find "$d" -name '*.zst' -print0 | xargs -0 zstd -qt
  find "$d" -type f -not -path '*/verification/*' -print0 | xargs -0 sha256sum >/dev/null
  echo "$(echo "$(date +%s.%N) - $t0" | bc) 0 $(du -sb "$d" | cut -f1)"
}

declare -A R
for i in $(seq 1 "$RUNS"); do
  echo "run $i/$RUNS ..." >&2
  R[rawp]+="$(raw_physical)"$'\n'
  R[rawl]+="$(raw_logical)"$'\n'
  R[pgbak]+="$(pgbak_now)"$'\n'
  R[vraw]+="$(verify_raw)"$'\n'
  R[vpgbak]+="$(verify_pgbak)"$'\n'
  if [ "${SKIP_RESEED:-0}" != 1 ]; then
    R[reinit]+="$(reseed_reinit)"$'\n'
    R[reseed]+="$(reseed_pgbak)"$'\n'
  fi
done
stats() {  # $1 = column of the rows on stdin; prints "median min max"
  awk -v c="$1" 'NF {print $c}' | sort -g | awk '{a[NR]=$1} END {printf "%s %s %s", a[int((NR+1)/2)], a[1], a[NR]}'; }
med() { stats "$1" | cut -d' ' -f1; }
row() {  # name rows col_time col_rss col_bytes
  local t r b; t=($(printf '%s' "$2" | stats "$3")); r=($(printf '%s' "$2" | stats "$4")); b=($(printf '%s' "$2" | stats "$5"))
  printf '%-34s %8.2f s (%.2f-%.2f)  %8.1f MB  %10.1f MB\n' "$1" "${t[0]}" "${t[1]}" "${t[2]}" \
    "$(echo "${r[0]} / 1024" | bc -l)" "$(echo "${b[0]} / 1048576" | bc -l)"
}
echo
echo "pgbak benchmark: pgbench scale $SCALE + small db, $RUNS runs each, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %-24s %11s  %13s\n' "operation" "wall median (min-max)" "peak RSS" "bytes"
row "raw pg_basebackup client-zstd:3" "${R[rawp]}" 1 2 3
row "raw pg_dump -Z0 | zstd -3 -T2 (all)" "${R[rawl]}" 1 2 3
row "pgbak now (physical + logical)" "${R[pgbak]}" 1 2 3
row "pgbak now, physical part" "${R[pgbak]}" 4 2 6
row "zstd -t + sha256sum (newest backup)" "${R[vraw]}" 1 2 3
row "pgbak verify (default level)" "${R[vpgbak]}" 1 2 3
if [ "${SKIP_RESEED:-0}" != 1 ]; then
  row "patronictl reinit --from-leader" "${R[reinit]}" 1 2 3
  row "pgbak restore --node" "${R[reseed]}" 1 2 3
fi
rawp=$(printf '%s' "${R[rawp]}" | med 1); rawl=$(printf '%s' "${R[rawl]}" | med 1)
pp=$(printf '%s' "${R[pgbak]}" | med 4); pt=$(printf '%s' "${R[pgbak]}" | med 1)
echo
printf 'physical part / raw pg_basebackup:      %.2fx  (target <= 1.05)\n' "$(echo "$pp / $rawp" | bc -l)"
printf 'whole run / raw tools one after another: %.2fx  (target <= 1.10)\n' "$(echo "$pt / ($rawp + $rawl)" | bc -l)"
vr=$(printf '%s' "${R[vraw]}" | med 1); vp=$(printf '%s' "${R[vpgbak]}" | med 1)
printf 'verify speed / (zstd -t + sha256sum):    %.2fx  (target >= 0.9)\n' "$(echo "$vr / $vp" | bc -l)"
if [ "${SKIP_RESEED:-0}" != 1 ]; then
  rr=$(printf '%s' "${R[reinit]}" | med 1); rp=$(printf '%s' "${R[reseed]}" | med 1)
  printf 'restore --node / patronictl reinit:      %.2fx  (target <= 0.8)\n' "$(echo "$rp / $rr" | bc -l)"
fi
printf 'pgbak peak RSS:                          %.1f MB (target <= 100)\n' "$(echo "$(printf '%s' "${R[pgbak]}" | stats 2 | cut -d' ' -f3) / 1024" | bc -l)"
