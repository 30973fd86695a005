#!/bin/bash
# Benchmark: pgbak against the raw PostgreSQL tools, pgBackRest and Barman, on the running test cluster.
# Usage: scripts/bench.sh [SCALE=100] [RUNS=3]   (as root; start the cluster first: scripts/cluster/start.sh)
# Environment: PROD_MB=1024 (size of the production-like data set), SCALES="25 50 100 200" (cost growth; empty: skip),
#   SKIP_TOOLS=1 (no pgBackRest/Barman), SKIP_RESEED=1, SKIP_PROD=1, HISTORY=1000 (backups for list/prune timing),
#   SKIP_WAL=1 (no WAL archive benchmark), WAL_ONLY=1 (only it; needs the tools), WAL_SECONDS=60 (load per run),
#   SKIP_S3=1 (no S3 repository benchmark, see bench/s3.sh), S3_ONLY=1 (only it, on pgbench at SCALE),
#   INCREMENTAL_ONLY=1 (only incremental base backups on a PostgreSQL 17+ cluster, see bench/incremental.sh;
#   CHANGE_PCT=1: the share of pgbench_accounts updated between the full and the incremental backup).
#
# Two data sets, each contender RUNS times in alternation: pgbench at SCALE plus a small database; then a database
# of about PROD_MB that compresses like production data. For each: backups (pgbak now --physical-only and full; raw
# pg_basebackup -Ft -X stream client-zstd:3 with 2 workers; raw pg_dump -Fc -Z0 | zstd -3 -T2 per database;
# pgBackRest full, zst 3, process-max 2; Barman, postgres method, zstd 3, 2 workers; none of them deleting old
# backups inside the timed run), deleting what the runs left (pgbak prune vs pgbackrest expire), verification
# (pgbak verify vs zstd -t + sha256sum), materializing a data directory (pgbak restore --datadir vs pgbackrest restore
# --type=standby), re-seeding a replica until it streams (pgbak restore --node vs patronictl reinit), on pgbench
# again after the leader has written GBs of WAL; then `pgbak list` and `prune --dry-run` over HISTORY backups and
# `pgbak now` at each of SCALES. Prints the table with ratios and targets, and writes $LAB/bench/bench.md and
# bench.svg. pgBackRest's archiving and Barman's slot are switched off and dropped again at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; cd "$ROOT"
. scripts/cluster/env.sh; . scripts/cluster/lib.sh; . scripts/bench/lib.sh; . scripts/bench/tools.sh
. scripts/bench/wal.sh
. scripts/bench/s3.sh
. scripts/bench/incremental.sh
SCALE=${1:-100}; RUNS=${2:-3}; PROD_MB=${PROD_MB:-1024}; SCALES=${SCALES-25 50 100 200}; HISTORY=${HISTORY:-1000}
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
if [ "${SKIP_TOOLS:-0}" != 1 ]; then
  command -v pgbackrest >/dev/null && command -v barman >/dev/null || {
    echo "installing pgbackrest and barman ..." >&2; apt-get install -y -qq pgbackrest barman >/dev/null; }
fi
swift build -c release --static-swift-stdlib > "$LAB/bench-build.log" 2>&1 || { tail -30 "$LAB/bench-build.log" >&2; exit 1; }
install -d -m 0755 "$LAB/bin"; install -m 0755 "$(swift build -c release --static-swift-stdlib --show-bin-path)/pgbak" "$LAB/bin/pgbak"
CONFIG=$(bash scripts/cluster/write-pgbak-config.sh 2)
REPO="$LAB/pgbak/repo"
OUT="$LAB/bench"; rm -rf "$OUT"; install -d -o postgres -g postgres -m 0700 "$OUT"
# The timed backups keep every backup (pgbak: keep_last 1000 in NOW_CONFIG; pgBackRest: repo1-retention-full=1000,
# see tools.sh), as pg_basebackup, pg_dump and Barman do: deleting old backups is timed on its own, once per data
# set (pgbak prune with keep_last 2; pgbackrest expire with retention 2).
NOW_CONFIG="$OUT/pgbak-keep-all.yml"
sed -e "s#^  keep_last: .*#  keep_last: 1000#" "$CONFIG" > "$NOW_CONFIG"
chown postgres:postgres "$NOW_CONFIG"; chmod 600 "$NOW_CONFIG"
: > "$OUT/results.tsv"

if [ "${SKIP_TOOLS:-0}" != 1 ]; then
  trap 'echo "switching archiving off, dropping the slot ..." >&2; tools_off' EXIT
  echo "switching on WAL archiving to pgBackRest and a slot for Barman (rolling restart) ..." >&2
  tools_on
fi

newest() { ls "$REPO/backups" | tail -1; }

# ---- the contenders; each records one run ----
raw_basebackup() {
  local d="$OUT/raw-basebackup"; rm -rf "$d"
  timed_pg env PGPASSFILE="$LAB/pgbak/cluster.pgpass" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$(leader_port)" \
    -U replicator -w -D "$d" -Ft -X stream -c fast --compress=client-zstd:level=3,workers=2
  record "$DS" raw-basebackup "$T" "$M" "$(du -sb "$d" | cut -f1)"
}
raw_dumps() {
  local d="$OUT/raw-dumps" rss=0 r db port; rm -rf "$d"; install -d -o postgres -m 0700 "$d"; port=$(leader_port)
  run_start
  for db in $(psql_leader -c "select datname from pg_database where not datistemplate and datallowconn order by 1"); do
    as_pg bash -c "PGPASSWORD='$SU_PASS' /usr/bin/time -f %M -o '$d/rss.$db' $PGBIN/pg_dump -h 127.0.0.1 -p $port \
      -U postgres -Fc -Z0 '$db' | /usr/bin/time -f %M -o '$d/zrss.$db' zstd -q -3 -T2 -o '$d/$db.dump.zst'"
    for r in $(cat "$d/rss.$db" "$d/zrss.$db"); do [ "$r" -gt "$rss" ] && rss=$r; done
  done
  as_pg bash -c "PGPASSWORD='$SU_PASS' $PGBIN/pg_dumpall -h 127.0.0.1 -p $port -U postgres --globals-only \
    | zstd -q -3 -o '$d/globals.sql.zst'"
  run_end; rm -f "$d"/rss.* "$d"/zrss.*
  record "$DS" raw-dumps "$T" "$rss" "$(du -sb "$d" | cut -f1)"
}
pgbak_physical() {
  timed_pgbak now --physical-only --config "$NOW_CONFIG"
  record "$DS" pgbak-physical "$T" "$M" "$(du -sb "$REPO/backups/$(newest)" | cut -f1)"
}
pgbak_full() {
  timed_pgbak now --config "$NOW_CONFIG"
  record "$DS" pgbak-full "$T" "$M" "$(du -sb "$REPO/backups/$(newest)" | cut -f1)"
}
pgbackrest_full() {
  timed_pg pgbackrest --config="$PB/pgbackrest.conf" --stanza=x backup --type=full
  local label; label=$(ls -d "$PB/repo/backup/x/"*F | tail -1)
  record "$DS" pgbackrest-full "$T" "$M" "$(du -sb "$label" | cut -f1)"
}
barman_backup() {
  timed_pg barman -c "$BM/barman.conf" backup --wait --wait-timeout 300 pg
  local dir; dir=$(ls -td "$BM/home/pg/base/"*/ | head -1)
  record "$DS" barman-backup "$T" "$M" "$(du -sb "$dir" | cut -f1)"
}
verify_pgbak() {
  local id; id=$(newest)
  timed_pgbak verify "$id" --config "$CONFIG"
  record "$DS" verify-pgbak "$T" "$M" "$(du -sb "$REPO/backups/$id" | cut -f1)"
}
verify_raw() {
  local d; d="$REPO/backups/$(newest)"
  timed_pg bash -c "find '$d' -name '*.zst' -print0 | xargs -0 zstd -qt && \
    find '$d' -type f -not -path '*/verification/*' -print0 | xargs -0 sha256sum >/dev/null"
  record "$DS" verify-raw "$T" "$M" "$(du -sb "$d" | cut -f1)"
}
materialize_pgbak() { materialize_backup "$CONFIG" "$(newest)" materialize-pgbak; }
restore_pgbackrest() {
  local d="$OUT/pgbackrest-restore"; rm -rf "$d" "$OUT/pgbackrest-ts"; install -d -o postgres -m 0700 "$d"
  install -d -o postgres -m 0700 "$OUT/pgbackrest-ts"
  timed_pg pgbackrest --config="$PB/pgbackrest.conf" --stanza=x --pg1-path="$d" \
    --tablespace-map-all="$OUT/pgbackrest-ts" restore --type=standby
  record "$DS" restore-pgbackrest "$T" "$M" "$(du -sb "$d" | cut -f1)"
  rm -rf "$d" "$OUT/pgbackrest-ts"
}
# reseed OPERATION SEEDER: re-seeds the first replica with `SEEDER MEMBER` and records the time until it streams.
reseed() {
  local r before; r=$(replica_name); before=$(started_at "$r"); run_start
  "$2" "$r"; wait_streaming "$r" "$before"; record "$DS" "$1" "$(elapsed "$T0")" 0 0
}
seed_pgbak() { as_pg "$LAB/bin/pgbak" restore --node "$1" --quiet --config "$CONFIG" >/dev/null; }
seed_reinit() { $PCTL reinit "$SCOPE" "$1" --from-leader --force --wait >/dev/null 2>&1; }
reseed_pgbak_wal() {
  reseed reseed-pgbak-wal seed_pgbak || echo "pgbak restore --node failed after the WAL burst (above)" >&2
}

# Deleting old backups: what the timed backups above leave, down to 2 (pgbak) or 2 full backups (pgBackRest).
# The bytes column holds the bytes removed.
prune_pgbak() {
  local before; before=$(du -sb "$REPO/backups" | cut -f1)
  timed_pgbak prune --config "$CONFIG"
  record "$DS" prune-pgbak "$T" "$M" $((before - $(du -sb "$REPO/backups" | cut -f1)))
}
expire_pgbackrest() {
  local before; before=$(du -sb "$PB/repo/backup" | cut -f1)
  timed_pg pgbackrest --config="$PB/pgbackrest.conf" --stanza=x --repo1-retention-full=2 expire
  record "$DS" expire-pgbackrest "$T" "$M" $((before - $(du -sb "$PB/repo/backup" | cut -f1)))
}

# in_order RUN COMMAND...: runs the commands (each a function and its arguments) in order on odd runs and in reverse
# on even ones. What a run leaves behind (memory just freed, which this kind of VM hands back to its host after a
# few seconds; a disk still settling) helps or hurts the run after it: no contender always follows the same one.
in_order() {
  local run=$1 k; shift
  local commands=("$@")
  if ((run % 2 == 1)); then for ((k = 0; k < ${#commands[@]}; k++)); do ${commands[k]}; done
  else for ((k = ${#commands[@]} - 1; k >= 0; k--)); do ${commands[k]}; done; fi
}

backups_round() {  # $1: run number
  local contenders=(raw_basebackup raw_dumps pgbak_physical pgbak_full)
  [ "${SKIP_TOOLS:-0}" != 1 ] && contenders+=(pgbackrest_full barman_backup)
  in_order "$1" "${contenders[@]}"
}
dataset() {  # $1: name; runs every contender RUNS times, alternating
  DS=$1
  for i in $(seq 1 "$RUNS"); do echo "$DS: backups, run $i/$RUNS ..." >&2; backups_round "$i"; done
  prune_pgbak
  [ "${SKIP_TOOLS:-0}" != 1 ] && expire_pgbackrest
  # pgbak writes its backups behind (they leave the page cache once on disk), pgBackRest does not: read the newest
  # backup once so that both verifications and restores start from a warm cache.
  find "$REPO/backups/$(newest)" -type f -exec cat {} + >/dev/null
  for i in $(seq 1 "$RUNS"); do
    echo "$DS: verify and restore, run $i/$RUNS ..." >&2
    in_order "$i" verify_raw verify_pgbak
    if [ "${SKIP_TOOLS:-0}" != 1 ]; then in_order "$i" materialize_pgbak restore_pgbackrest; else materialize_pgbak; fi
  done
  if [ "${SKIP_RESEED:-0}" != 1 ]; then
    for i in $(seq 1 "$RUNS"); do
      echo "$DS: re-seed, run $i/$RUNS ..." >&2; in_order "$i" "reseed reseed-reinit seed_reinit" "reseed reseed-pgbak seed_pgbak"
    done
  fi
}

if [ "${WAL_ONLY:-0}" = 1 ]; then
  wal_bench
  exit 0
fi
load_pgbench "$SCALE"
if [ "${INCREMENTAL_ONLY:-0}" = 1 ]; then
  incremental_bench
  exit 0
fi
if [ "${S3_ONLY:-0}" = 1 ]; then
  s3_bench
  exit 0
fi
dataset "pgbench-$SCALE"
[ "${SKIP_S3:-0}" = 1 ] || s3_bench
if [ "${SKIP_RESEED:-0}" != 1 ]; then
  # The leader writes a few GB of WAL after the newest backup (half the rows of pgbench_accounts updated; at scale
  # 100 about 2.5 GB, within the wal_keep_size tools_on sets, so that the backup can still seed a replica).
  echo "pgbench-$SCALE: writing WAL after the backup ..." >&2
  lsn0=$(psql_leader -c "select pg_current_wal_lsn()")
  psql_leader -d bench -c "update pgbench_accounts set abalance = abalance + 1 where aid % 2 = 0" -c checkpoint \
    >/dev/null
  wait_caught_up
  WAL_GB=$(psql_leader -c "select round((pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / 2^30)::numeric, 1)")
  for i in $(seq 1 "$RUNS"); do
    echo "pgbench-$SCALE: re-seed after $WAL_GB GB of WAL, run $i/$RUNS ..." >&2
    in_order "$i" "reseed reseed-reinit-wal seed_reinit" reseed_pgbak_wal
  done
fi
if [ "${SKIP_PROD:-0}" != 1 ]; then
  load_prodlike "$PROD_MB"
  dataset "prodlike-${PROD_MB}MB"
fi

# Bookkeeping over a repository of HISTORY backups (hard links of the newest one).
DS="history-$HISTORY-backups"
HIST="$OUT/history"; install -d -o postgres -m 0700 "$HIST"
python3 scripts/bench/fake-history.py "$REPO/backups/$(newest)" "$HIST/repo" "$HISTORY" >/dev/null
chown -R postgres:postgres "$HIST"
sed -e "s#^  path: .*#  path: $HIST/repo#" -e "s#^  keep_last: .*#  keep_last: 7#" "$CONFIG" > "$HIST/pgbak.yml"
chown postgres:postgres "$HIST/pgbak.yml"; chmod 600 "$HIST/pgbak.yml"
for i in $(seq 1 "$RUNS"); do
  timed_pgbak list --config "$HIST/pgbak.yml"; record "$DS" list "$T" "$M" 0
  timed_pgbak prune --dry-run --config "$HIST/pgbak.yml"; record "$DS" prune-dry-run "$T" "$M" 0
done
rm -rf "$HIST"

# Cost growth: pgbak now at each scale (pgbench only), bytes column = the databases' size.
for s in $SCALES; do
  load_pgbench "$s"; DS="scale-$s"; bytes=$(cluster_bytes)
  timed_pgbak now --physical-only --config "$NOW_CONFIG"; record "$DS" pgbak-physical "$T" "$M" "$bytes"
  timed_pgbak now --config "$NOW_CONFIG"; record "$DS" pgbak-full "$T" "$M" "$bytes"
  as_pg "$LAB/bin/pgbak" prune --quiet --config "$CONFIG" >/dev/null
done

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), PostgreSQL $(psql_leader -c 'show server_version' | cut -d' ' -f1), Patroni 4.1.5, pgBackRest $(pgbackrest version 2>/dev/null | cut -d' ' -f2), Barman $(barman --version 2>&1 | tail -1 | cut -d' ' -f1)"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "data sets: pgbench scale $SCALE + a small database; a production-like database of about $PROD_MB MB; $RUNS runs each, alternating, warm cache"
  [ -n "${WAL_GB:-}" ] && echo "WAL written before the second re-seed: $WAL_GB GB"
  echo "command: scripts/bench.sh $SCALE $RUNS"
} > "$OUT/meta.txt"
python3 scripts/bench/report.py "$OUT/results.tsv" "$OUT/meta.txt" "$OUT/bench.md" "$OUT/bench.svg"
if [ "${SKIP_WAL:-0}" != 1 ] && [ "${SKIP_TOOLS:-0}" != 1 ]; then wal_bench >> "$OUT/bench.md"; fi
echo
echo "wrote $OUT/bench.md and $OUT/bench.svg"
