# The WAL archive's benchmark for scripts/bench.sh (source after tools.sh; tools_on has created pgBackRest's stanza):
#  1. archive throughput under pgbench load: WAL generated vs archived, the archive's lag, CPU per archived GB —
#     pgbak wal-push vs pgbackrest archive-push (async, process-max 2), the same load for each;
#  2. the data-loss window: a client commits one row per transaction, the leader is killed (Patroni and postmaster);
#     committed rows missing from a recovery to the end of the archive;
#  3. point-in-time recovery of a backup plus the WAL of an update of half of pgbench_accounts (2+ GB at scale 100)
#     to a time: pgbak restore --standalone --to-time --start vs pgbackrest restore --type=time (async archive-get),
#     until the server has promoted, with the same server settings.
# Writes $OUT/wal.tsv and $OUT/wal.md.

PGBAK_PUSH="$LAB/bin/pgbak wal-push --config $LAB/pgbak/pgbak.yml %p"   # the configuration bench.sh writes
PB_PUSH="pgbackrest --config=$PB/pgbackrest.conf --stanza=x --pg1-path=\"\$PWD\" archive-push %p"
WAL_SECONDS=${WAL_SECONDS:-60}

# set_archive COMMAND: through Patroni's dynamic configuration; returns once the leader uses it.
set_archive() {
  $PCTL edit-config --force -p "archive_command=$1" >/dev/null
  for _ in $(seq 1 150); do [ "$(psql_leader -c 'show archive_command')" = "$1" ] && return 0; sleep 0.2; done
  echo "bench: archive_command did not change to $1" >&2; return 1
}
# pb_async on|off: pgBackRest's asynchronous archive-push and archive-get.
pb_async() {
  sed -i '/^archive-async=/d' "$PB/pgbackrest.conf"
  if [ "$1" = on ]; then sed -i 's/^\[global\]$/[global]\narchive-async=y/' "$PB/pgbackrest.conf"; fi
}
# Waits (at most 10 minutes) until nothing finished waits for the archiver.
drain_archive() {
  psql_leader -c "select pg_switch_wal()" >/dev/null
  for _ in $(seq 1 6000); do
    [ "$(psql_leader -c "select count(*) from pg_ls_archive_statusdir() where name like '%.ready'")" = 0 ] && return 0
    sleep 0.1
  done; echo "bench: the archiver did not catch up within 10 minutes" >&2
}
# pgBackRest's backups connect to pg1: after the data-loss run's failover, another member leads.
pb_point_at_leader() {
  local i; i=$(leader_name); i=${i#node}
  sed -i -e "s#^pg1-path=.*#pg1-path=$DATA/node$i#" -e "s#^pg1-port=.*#pg1-port=$(pg_port "$i")#" "$PB/pgbackrest.conf"
}
archiver_pid() { psql_leader -c "select pid from pg_stat_activity where backend_type = 'archiver'"; }
# The archiver's CPU with everything it starts, detached daemons and their workers included (pgBackRest's async
# archive-push forks away from the archiver; cgroup membership follows every fork): a cpuacct cgroup it is moved into.
ARCHIVER_CG=/sys/fs/cgroup/cpuacct/pgbak-bench-archiver
cg_nanoseconds() { cat "$ARCHIVER_CG/cpuacct.usage"; }
lsn_bytes() { psql_leader -c "select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"; }
# The position just past the newest archived segment (16 MB segments); $LAST_END when the newest is no segment.
archived_end() {
  local w; w=$(psql_leader -c "select coalesce(last_archived_wal, '') from pg_stat_archiver")
  if [[ $w =~ ^[0-9A-F]{24}$ ]]; then LAST_END=$(( (16#${w:8:8} << 32) + (16#${w:16:8} + 1) * 16777216 )); fi
  echo "${LAST_END:-0}"
}
percentile() { sort -n "$1" | awk -v p="$2" '{a[NR] = $1} END {i = int(NR * p / 100); if (i < 1) i = 1; print a[i]}'; }

# archive_run NAME COMMAND: pgbench for WAL_SECONDS with COMMAND archiving; one line of wal.tsv.
archive_run() {
  local name=$1 c0 c1 lsn0 lsn1 t0 tgen tall pg cur lag
  set_archive "$2"; drain_archive
  # Both contenders start from a checkpoint: the first changes after one carry full-page images (more WAL).
  psql_leader -c checkpoint >/dev/null
  mkdir -p "$ARCHIVER_CG"; archiver_pid > "$ARCHIVER_CG/tasks"; LAST_END=
  c0=$(cg_nanoseconds); lsn0=$(lsn_bytes); : > "$OUT/lag.$name"; t0=$(date +%s.%N)
  PGPASSWORD=$SU_PASS pgbench -h 127.0.0.1 -p "$(leader_port)" -U postgres -n -N -c 4 -j 2 -T "$WAL_SECONDS" bench \
    > "$OUT/pgbench.$name" 2>&1 &
  pg=$!
  while kill -0 "$pg" 2>/dev/null; do
    sleep 1; cur=$(lsn_bytes); lag=$((cur - $(archived_end)))
    echo $((lag < 0 ? 0 : lag / 1048576)) >> "$OUT/lag.$name"
  done
  wait "$pg" || true
  lsn1=$(lsn_bytes); tgen=$(elapsed "$t0")
  drain_archive; tall=$(elapsed "$t0"); sleep 1; c1=$(cg_nanoseconds)   # a daemon's last workers end
  printf 'archive\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" $(((lsn1 - lsn0) / 1048576)) "$tgen" "$tall" \
    "$(echo "scale=2; ($c1 - $c0) / 1000000000" | bc)" "$(percentile "$OUT/lag.$name" 50)" \
    "$(percentile "$OUT/lag.$name" 99)" >> "$OUT/wal.tsv"
}

# The data-loss window: rows a client had committed that a recovery to the end of the archive lacks.
loss_run() {
  local port acked restored d="$OUT/loss-restore" killed
  set_archive "$PGBAK_PUSH"; drain_archive
  # Recovery to the end of the archive starts from a backup on the current timeline.
  as_pg "$LAB/bin/pgbak" now --physical-only --quiet --config "$NOW_CONFIG"
  psql_leader -c "drop table if exists loss" -c "create table loss (id bigint primary key)" >/dev/null
  port=$(leader_port)
  PGPASSWORD=$SU_PASS "$VENV/bin/python3" scripts/bench/loss-client.py 127.0.0.1 "$port" > "$OUT/loss.acked" \
    2>"$OUT/loss.err" &
  local client=$!
  sleep 10
  killed=$(bash scripts/cluster/failover.sh kill 2>/dev/null | tail -1)
  wait "$client" || true
  acked=$(tail -1 "$OUT/loss.acked")
  drain_archive
  rm -rf "$d"; install -d -o postgres -m 0700 "$d"
  as_pg "$LAB/bin/pgbak" restore --config "$CONFIG" --datadir "$d" --standalone --to-latest --start --port 5611 \
    > "$OUT/loss.restore" 2>&1 || cat "$OUT/loss.restore" >&2
  restored=$(as_pg psql -h /tmp -p 5611 -U postgres -qAtX -c "select coalesce(max(id), 0) from loss")
  as_pg "$PGBIN/pg_ctl" -D "$d" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$d"
  # The old leader, rewound, is consistent only once the new leader has written past the point pg_rewind copied.
  start_node "${killed#node}" >/dev/null 2>&1 && psql_leader -c "drop table loss" >/dev/null && wait_healthy 180 >/dev/null
  printf 'loss\tpgbak\t%s\t%s\t%s\n' "$acked" "$restored" "$((acked - restored))" >> "$OUT/wal.tsv"
}

# The settings both recovered servers run with: pgbak's standalone configuration (with the primary's limits).
pitr_pgbak() {
  local d="$OUT/pitr-pgbak" t rows
  rm -rf "$d"; install -d -o postgres -m 0700 "$d"
  run_start
  as_pg "$LAB/bin/pgbak" restore --config "$CONFIG" --datadir "$d" --standalone --to-time "$PITR_TARGET" --start \
    --port 5612 --backup "$PITR_BACKUP" > "$OUT/pitr.pgbak" 2>&1 || { cat "$OUT/pitr.pgbak" >&2; return 1; }
  run_end; t=$T
  rows=$(as_pg psql -h /tmp -p 5612 -U postgres -qAtX -c "select count(*) from pitr_mark")
  as_pg "$PGBIN/pg_ctl" -D "$d" stop -m fast >/dev/null
  # Keep pgbak's server configuration for pgBackRest's run, without pgbak's recovery lines.
  sed '/^# Written by pgbak: recovery/,/^recovery_target_timeline/{/^max_/!d}' "$d/postgresql.conf" > "$OUT/pitr.conf"
  cp "$d/pg_hba.conf" "$d/pg_ident.conf" "$OUT/"
  rm -rf "$d"
  printf 'pitr\tpgbak\t%s\t%s\n' "$t" "$rows" >> "$OUT/wal.tsv"
}
pitr_pgbackrest() {
  local d="$OUT/pitr-pgbackrest" t rows
  [ -f "$OUT/pitr.conf" ] || { echo "bench: pitr_pgbackrest needs pgbak's configuration (run pitr_pgbak first)" >&2; return 1; }
  rm -rf "$d" "$OUT/pitr-ts"; install -d -o postgres -m 0700 "$d" "$OUT/pitr-ts"
  run_start
  as_pg pgbackrest --config="$PB/pgbackrest.conf" --stanza=x --pg1-path="$d" --tablespace-map-all="$OUT/pitr-ts" \
    restore --type=time --target="$PITR_TARGET" --target-action=promote > "$OUT/pitr.pgbackrest" 2>&1 \
    || { cat "$OUT/pitr.pgbackrest" >&2; return 1; }
  sed -e "s#$OUT/pitr-pgbak#$d#g" -e 's/^port = .*/port = 5613/' "$OUT/pitr.conf" > "$d/postgresql.conf"
  cp "$OUT/pg_hba.conf" "$OUT/pg_ident.conf" "$d/"; chown postgres:postgres "$d"/*.conf
  as_pg "$PGBIN/pg_ctl" -D "$d" -l "$d/recovery.log" -w -t 3600 start >/dev/null
  until [ "$(as_pg psql -h /tmp -p 5613 -U postgres -qAtX -c 'select pg_is_in_recovery()' 2>/dev/null)" = f ]; do
    sleep 0.1
  done
  run_end; t=$T
  rows=$(as_pg psql -h /tmp -p 5613 -U postgres -qAtX -c "select count(*) from pitr_mark")
  as_pg "$PGBIN/pg_ctl" -D "$d" stop -m fast >/dev/null
  rm -rf "$d" "$OUT/pitr-ts"
  printf 'pitr\tpgbackrest\t%s\t%s\n' "$t" "$rows" >> "$OUT/wal.tsv"
}

# WAL_PARTS="archive loss pitr" (the default): which of the three to run.
wal_bench() {
  local parts=" ${WAL_PARTS:-archive loss pitr} "
  : > "$OUT/wal.tsv"
  load_pgbench "$SCALE"
  for i in $(seq 1 "$RUNS"); do
    [[ $parts == *" archive "* ]] || break
    echo "WAL archive: throughput under pgbench, run $i/$RUNS ..." >&2
    pb_async on
    in_order "$i" archive_pgbak archive_pgbackrest
  done
  if [[ $parts == *" loss "* ]]; then echo "WAL archive: data-loss window ..." >&2; loss_run; fi
  [[ $parts == *" pitr "* ]] || { wal_report; return 0; }
  echo "WAL archive: point-in-time recovery after GBs of WAL ..." >&2
  set_archive "$PGBAK_PUSH && $PB_PUSH"; drain_archive; pb_point_at_leader
  timed_pgbak now --physical-only --config "$NOW_CONFIG"; PITR_BACKUP=$(newest)
  as_pg pgbackrest --config="$PB/pgbackrest.conf" --stanza=x backup --type=full >/dev/null
  local lsn0; lsn0=$(psql_leader -c "select pg_current_wal_lsn()")
  psql_leader -d bench -c "update pgbench_accounts set abalance = abalance + 1 where aid % 2 = 0" >/dev/null
  psql_leader -c "drop table if exists pitr_mark" -c "create table pitr_mark (t timestamptz)" \
    -c "insert into pitr_mark values (clock_timestamp())" >/dev/null
  PITR_TARGET=$(psql_leader -c "select clock_timestamp()")
  sleep 1; psql_leader -c "insert into pitr_mark values (clock_timestamp())" >/dev/null
  drain_archive
  PITR_WAL_GB=$(psql_leader -c "select round((pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / 2^30)::numeric, 2)")
  for i in $(seq 1 "$RUNS"); do
    echo "WAL archive: PITR over $PITR_WAL_GB GB of WAL, run $i/$RUNS ..." >&2
    in_order "$i" pitr_pgbak pitr_pgbackrest   # the first run is pgbak's: pgBackRest's server takes its settings
  done
  wal_report
}
wal_report() {
  pb_async off
  set_archive "$PB_PUSH"
  python3 scripts/bench/wal-report.py "$OUT/wal.tsv" "${PITR_WAL_GB:-0}" "$WAL_SECONDS" > "$OUT/wal.md"
  cat "$OUT/wal.md"
}
archive_pgbak() { archive_run pgbak "$PGBAK_PUSH"; }
archive_pgbackrest() { archive_run pgbackrest "$PB_PUSH"; }
