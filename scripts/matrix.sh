#!/bin/bash
# The core end to end on each PostgreSQL major / Patroni version pair, on the local 3-node cluster (as root):
# `pgbak now`, `verify --restore-test`, `restore --node` through Patroni (the re-seeded member's rows compared with the
# leader's), `restore --database` (rows compared with the backup's), a switchover then `now` from the new leader.
# On PostgreSQL 17+ also: an incremental backup on the first one, restore-tested (its chain combined), the re-seed
# from it, a full one after the switchover (the timeline changed), and the Swift suite IncrementalIntegrationTests.
# Prints a table (also $LAB/matrix.md); exits 1 if any step failed.
# Usage: scripts/matrix.sh [PG:PATRONI ...]   (default: every pair of the README's version table)
# Needs scripts/install-deps.sh done and pgbak built (it installs $LAB/bin/pgbak from the release build if missing,
# else uses it); installs each PostgreSQL and Patroni version on first use (scripts/cluster/install-version.sh).
# Stops the cluster it started for each pair; the default cluster is not restarted.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; cd "$ROOT"
. scripts/cluster/env.sh
PAIRS=("$@")
[ ${#PAIRS[@]} -gt 0 ] || PAIRS=(13:3.0.4 14:3.3.11 15:4.1.5 16:4.0.11 17:3.3.11 18:4.1.5)
if [ ! -x "$LAB/bin/pgbak" ]; then
  command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
  swift build -c release --static-swift-stdlib >/dev/null
  install -d -m 0755 "$LAB" "$LAB/bin"
  install -m 0755 "$(swift build -c release --static-swift-stdlib --show-bin-path)/pgbak" "$LAB/bin/pgbak"
fi
# The Swift suite run on 17+ (a no-op when scripts/test.sh has built it).
if printf '%s\n' "${PAIRS[@]}" | grep -qE '^(1[7-9]|[2-9][0-9]):'; then
  command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
  swift build --build-tests >/dev/null || exit 1
fi
OUT="$LAB/matrix"; mkdir -p "$OUT"
ROWS=()
FAILED=0

pgbak() { setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/var/lib/postgresql "$LAB/bin/pgbak" "$@"; }
sql() {  # sql PORT DB QUERY
  PGPASSWORD=$SU_PASS psql -h 127.0.0.1 -p "$1" -U postgres -d "$2" -qAtXc "$3"
}
member() {  # member ROLE-FILTER FIELD: the first member matching, e.g. member leader port
  api_get 1 /cluster | jq -r "[.members[] | select($1)][0].$2"
}
CONTENT="select count(*) || ':' || md5(string_agg(v, ',' order by g)) from t"

# step NAME COMMAND...: runs a step, records OK (seconds) or FAIL, and logs its output.
step() {
  local name=$1 t0 status; shift
  t0=$(date +%s.%N)
  "$@" >> "$LOG" 2>&1; status=$?
  local took; took=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
  if [ "$status" = 0 ]; then CELLS+=("ok ${took}s"); else CELLS+=("FAIL"); FAILED=1; echo "  $name failed (see $LOG)" >&2; fi
  return "$status"
}

backup() {
  pgbak now --config "$CONFIG" && [ "$(pgbak list --config "$CONFIG" | grep -c ' complete ')" -ge 1 ]
}
restore_test() {
  pgbak verify --restore-test --config "$CONFIG" | tee -a /dev/stderr | grep -q 'restore-test  OK'
}
reseed() {
  local leader replica port want
  leader=$(member '.role=="leader"' port)
  sql "$leader" app "insert into t select g, md5(g::text) from generate_series(50001, 60000) g"
  replica=$(member '.role!="leader"' name); port=$(member ".name==\"$replica\"" port)
  want=$(sql "$leader" app "$CONTENT")
  pgbak restore --node "$replica" --config "$CONFIG" || return 1
  for _ in $(seq 1 240); do [ "$(sql "$port" app "$CONTENT" 2>/dev/null)" = "$want" ] && return 0; sleep 0.25; done
  echo "$replica does not hold the leader's rows" >&2; return 1
}
restore_database() {
  local leader; leader=$(member '.role=="leader"' port)
  pgbak restore --database app --as app_copy --config "$CONFIG" || return 1
  [ "$(sql "$leader" app_copy "$CONTENT")" = "$AT_BACKUP" ] || { echo "app_copy differs from the backup" >&2; return 1; }
}
newest_manifest() { jq "$1" "$LAB/pgbak/repo/backups/$(pgbak list --config "$CONFIG" --json | jq -r '.[-1].id')/manifest.json"; }
incremental() {
  local leader; leader=$(member '.role=="leader"' port)
  sql "$leader" app "update t set v = 'changed' where g <= 1000"
  AT_BACKUP=$(sql "$leader" app "$CONTENT")   # what restore --database must bring back from now on
  pgbak now --config "$CONFIG" | tee -a /dev/stderr | grep -q 'base backup incremental on' || return 1
  [ "$(newest_manifest .physical.incremental.depth)" = 1 ] || { echo "the newest backup is not incremental" >&2; return 1; }
  pgbak verify --restore-test --latest --config "$CONFIG" | tee -a /dev/stderr | grep -q 'combine a chain of 2 backups'
}
incremental_suite() {
  PGBAK_BIN="$LAB/bin/pgbak" PGBAK_LAB="$LAB" PGBAK_REQUIRE_CLUSTER=1 \
    swift test --skip-build --filter IncrementalIntegrationTests 2>&1 | tee -a /dev/stderr | grep -q '^✔ Test aChainRestoresReseedsAndIsKeptWhole() passed'
}
switchover_then_backup() {
  local before after newest
  before=$(member '.role=="leader"' name)
  bash scripts/cluster/failover.sh switchover || return 1
  after=$(member '.role=="leader"' name)
  [ "$after" != "$before" ] || { echo "the leader did not change" >&2; return 1; }
  pgbak now --config "$CONFIG" || return 1
  newest=$(pgbak list --config "$CONFIG" --json | jq -r '.[-1].leader')
  [ "$newest" = "$after" ] || { echo "the newest backup is from $newest, not $after" >&2; return 1; }
  if [ "$PG_MAJOR" -ge 17 ]; then
    newest_manifest .physical.full_reason | grep -q 'the timeline changed' \
      || { echo "the backup after the switchover is not a full one for the new timeline" >&2; return 1; }
  fi
  pgbak verify --latest --config "$CONFIG"
}

for pair in "${PAIRS[@]}"; do
  export PGBAK_PG=${pair%%:*} PGBAK_PATRONI=${pair#*:}
  . scripts/cluster/env.sh
  LOG="$OUT/pg$PG_MAJOR-patroni$PATRONI_VERSION.log"; : > "$LOG"
  echo "== PostgreSQL $PG_MAJOR, Patroni $PATRONI_VERSION" >&2
  CELLS=()
  T0=$(date +%s)
  bash scripts/cluster/stop.sh >> "$LOG" 2>&1 || true
  rm -rf "$DATA"/*.failed
  CONFIG=$(bash scripts/cluster/write-pgbak-config.sh 3 2>>"$LOG" | tail -1)
  [ -n "$CONFIG" ] || CONFIG="$LAB/pgbak/pgbak.yml"
  if step start bash scripts/cluster/start.sh --fresh; then
    VERSION=$(sql "$(member '.role=="leader"' port)" postgres "show server_version" | cut -d' ' -f1)
    sql "$(member '.role=="leader"' port)" postgres "create database app" >> "$LOG" 2>&1
    sql "$(member '.role=="leader"' port)" app \
      "create table t as select g, md5(g::text) v from generate_series(1, 50000) g" >> "$LOG" 2>&1
    AT_BACKUP=$(sql "$(member '.role=="leader"' port)" app "$CONTENT")
    step now backup && step verify restore_test
    if [ "$PG_MAJOR" -ge 17 ]; then step incremental incremental; else CELLS+=("–"); fi
    step reseed reseed
    step database restore_database
    step switchover switchover_then_backup
    if [ "$PG_MAJOR" -ge 17 ]; then step "incremental suite" incremental_suite; else CELLS+=("–"); fi
  else
    VERSION="$PG_MAJOR (not started)"
  fi
  while [ ${#CELLS[@]} -lt 8 ]; do CELLS+=("–"); done
  ROWS+=("| $VERSION | $("$VENV/bin/patroni" --version 2>/dev/null | cut -d' ' -f2) | $(printf '%s | ' "${CELLS[@]}")$(( $(date +%s) - T0 ))s |")
  bash scripts/cluster/stop.sh >> "$LOG" 2>&1 || true
done

{
  echo "| PostgreSQL | Patroni | cluster start | now | verify --restore-test | incremental, restore test | restore --node | restore --database | switchover, now | incremental suite | total |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/matrix.md"
exit "$FAILED"
