#!/bin/bash
# The main job on a local demo cluster, from a fresh Debian 12 machine (as root): installs what is needed, builds
# pgbak (release), starts a 3-node Patroni + PostgreSQL 15 + etcd cluster on 127.0.0.1, loads sample data, takes a
# backup with `pgbak now`, lists it, proves a dump restores, recovers a dropped table to the second before it was
# dropped from the WAL archive, and stops the cluster (PGBAK_KEEP_CLUSTER=1 leaves it up).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; cd "$ROOT"
. scripts/cluster/env.sh
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/install-deps.sh
swift build -c release --static-swift-stdlib
install -d -m 0755 "$LAB" "$LAB/bin"
install -m 0755 "$(swift build -c release --static-swift-stdlib --show-bin-path)/pgbak" "$LAB/bin/pgbak"
trap '[ "${PGBAK_KEEP_CLUSTER:-0}" = 1 ] || bash scripts/cluster/stop.sh >/dev/null 2>&1' EXIT
bash scripts/cluster/stop.sh >/dev/null 2>&1 || true
bash scripts/cluster/start.sh --fresh
CONFIG=$(bash scripts/cluster/write-pgbak-config.sh 3)
LEADER_PORT=$(api_get 1 /cluster | jq -r '.members[] | select(.role=="leader") | .port')
export PGHOST=127.0.0.1 PGPORT=$LEADER_PORT PGUSER=postgres PGPASSWORD=$SU_PASS
psql -qc "create database demo"
pgbench -i -s "${DEMO_SCALE:-10}" -q demo 2>&1 | tail -1
# pgbak runs as the postgres OS user; passwords come from the password file the configuration names.
pgbak() { setpriv --reuid=postgres --regid=postgres --init-groups "$LAB/bin/pgbak" "$@"; }
echo; echo "== pgbak now"; pgbak now --config "$CONFIG"
echo; echo "== pgbak list"; pgbak list --config "$CONFIG"
echo; echo "== pgbak verify --restore-test (materialize, pg_verifybackup, throw-away server, pg_amcheck, every dump)"
pgbak verify --restore-test --config "$CONFIG"
psql -d demo -qc "create table written_after_backup as select g from generate_series(1, 50000) g"
REPLICA=$(api_get 1 /cluster | jq -r '[.members[] | select(.role!="leader")][0].name')
REPLICA_PORT=$(api_get 1 /cluster | jq -r ".members[] | select(.name==\"$REPLICA\") | .port")
echo; echo "== pgbak restore --node $REPLICA (re-seed a replica from the backup, through Patroni)"
pgbak restore --node "$REPLICA" --config "$CONFIG"
sleep 1
for port in "$LEADER_PORT" "$REPLICA_PORT"; do
  printf 'port %s: %s\n' "$port" "$(psql -p "$port" -d demo -qAtc "select (select count(*) from pgbench_accounts), (select count(*) from written_after_backup)")"
done
echo; echo "== pgbak restore --database demo --as demo_restored (one database from its dump), compared"
pgbak restore --database demo --as demo_restored --config "$CONFIG"
for db in demo demo_restored; do
  printf '%-14s %s\n' "$db" "$(psql -d $db -qAtc "select count(*), sum(abalance), md5(string_agg(aid::text, ',' order by aid)) from pgbench_accounts")"
done
echo; echo "== point-in-time recovery: a table dropped by mistake, recovered as of the second before"
psql -d demo -qc "create table precious as select g from generate_series(1, 1000) g"
BEFORE=$(psql -qAtc "select clock_timestamp()")
sleep 1
psql -d demo -qc "drop table precious"
SWITCHED=$(psql -qAtc "select pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 300); do
  [ "$(psql -qAtc "select last_archived_wal >= '$SWITCHED' from pg_stat_archiver")" = t ] && break; sleep 0.1
done
PITR="$LAB/demo-pitr"; rm -rf "$PITR"; install -d -o postgres -g postgres -m 0700 "$PITR"
pgbak restore --datadir "$PITR" --standalone --to-time "$BEFORE" --start --port 5499 --config "$CONFIG"
ROWS=$(setpriv --reuid=postgres --regid=postgres --init-groups psql -h /tmp -p 5499 -d demo -qAtc \
  "select count(*) from precious")
setpriv --reuid=postgres --regid=postgres --init-groups "$PGBIN/pg_ctl" -D "$PITR" stop -m fast >/dev/null
rm -rf "$PITR"
echo "rows of precious as of $BEFORE: $ROWS (1000 were there)"
[ "$ROWS" = 1000 ] || { echo "demo: the recovered table does not hold its 1000 rows" >&2; exit 1; }
