# Helpers of scripts/bench.sh: measuring, recording, loading the data sets. Source after scripts/cluster/env.sh.

as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
elapsed() { echo "$(date +%s.%N) - $1" | bc; }
# Patroni's view of the cluster from the first member that answers (one may be down: the WAL benchmark kills one).
cluster_view() { local i; for i in 1 2 3; do api_get "$i" /cluster 2>/dev/null && return 0; done; return 1; }
leader_port() { cluster_view | jq -r '.members[] | select(.role=="leader") | .port'; }
leader_name() { cluster_view | jq -r '.members[] | select(.role=="leader") | .name'; }
replica_name() { cluster_view | jq -r '[.members[] | select(.role!="leader")][0].name'; }
psql_leader() { PGOPTIONS="-c client_min_messages=warning" PGPASSWORD=$SU_PASS psql -h 127.0.0.1 -p "$(leader_port)" -U postgres -qAtX -v ON_ERROR_STOP=1 "$@"; }

# record DATASET OPERATION SECONDS RSS_KB BYTES: one measured run, appended to $OUT/results.tsv; after timed_pg or
# timed_pgbak also DATASET OPERATION SECONDS MB to $OUT/disk.tsv: what reached the disk during the run.
record() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$@" >> "$OUT/results.tsv"
  [ -n "${D:-}" ] && printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$D" >> "$OUT/disk.tsv"
  D=
}
# MB written to whole disks so far (/proc/diskstats): a run's share shows how fast this machine's disk was then.
disk_mb() {
  awk '$3 ~ /^(vd[a-z]+|sd[a-z]+|xvd[a-z]+|nvme[0-9]+n[0-9]+)$/ {s += $10} END {printf "%d", s * 512 / 1048576}' \
    /proc/diskstats
}

# Waits (at most 30 s) until the leader has archived every finished WAL segment: with pgBackRest's archiving on,
# the archive-push of the WAL one contender's backup produced would otherwise run inside the next one's timed run.
wait_archived() {
  local i
  for i in $(seq 1 300); do
    [ "$(psql_leader -c "select count(*) from pg_ls_archive_statusdir() where name like '%.ready'" 2>/dev/null)" \
      = 0 ] && return 0
    sleep 0.1
  done
}

# Every measurement starts with the WAL archived and dirty pages written back (sync), so no run pays for the work
# of the one before. run_start sets T0 and D0; run_end sets T (seconds) and D (MB that reached the disk since).
run_start() { wait_archived; sync; D0=$(disk_mb); T0=$(date +%s.%N); }
run_end() { T=$(elapsed "$T0"); D=$(($(disk_mb) - D0)); }

# timed_pg: runs "$@" as postgres under GNU time; sets T, D and M (peak RSS of the largest process, KiB).
timed_pg() {
  run_start
  as_pg /usr/bin/time -f %M -o "$OUT/rss" "$@" > "$OUT/last.out" 2>&1 || { cat "$OUT/last.out" >&2; return 1; }
  run_end; M=$(cat "$OUT/rss")
}

# timed_pgbak: runs pgbak "$@" as postgres; sets T, D and M (pgbak's own peak RSS in KiB, children excluded). pgbak
# reports M itself: at --log-level debug its last line carries getrusage's peak_rss_kb, so nothing polls the process
# (polling /proc/PID/status 50 times a second took about 1 % of a core from pgbak alone). The log goes to
# $OUT/last.out.
timed_pgbak() {
  run_start
  PGBAK_DUMP_PASSWORD=$SU_PASS as_pg "$LAB/bin/pgbak" "$@" --log-level debug > "$OUT/last.out" 2>&1 \
    || { cat "$OUT/last.out" >&2; return 1; }
  run_end
  M=$(grep -oE '(^| )peak_rss_kb=[0-9]+' "$OUT/last.out" | tail -1 | cut -d= -f2)
  [ -n "$M" ] || { echo "no peak_rss_kb in pgbak's log:" >&2; tail -5 "$OUT/last.out" >&2; return 1; }
}

# materialize_backup CONFIG ID OP: pgbak restore --datadir of backup ID into an empty directory, recorded as OP
# with the size of what it wrote; the directory is removed again.
materialize_backup() {
  local d="$OUT/materialized"; rm -rf "$d"; install -d -o postgres -m 0700 "$d"
  timed_pgbak restore --datadir "$d" --backup "$2" --config "$1"
  record "$DS" "$3" "$T" "$M" "$(du -sb "$d" | cut -f1)"
  rm -rf "$d"
}

# The member's postmaster start time (its own REST API): a re-seed has happened once it changes.
started_at() { api_get "${1#node}" /patroni | jq -r .postmaster_start_time; }
# wait_streaming MEMBER BEFORE: until MEMBER's own REST API shows a postmaster started after BEFORE that runs and
# whose WAL receiver streams (a state left from before the re-seed never counts). Patroni's cluster view would add
# up to one loop_wait of its bookkeeping, at random, to both contenders.
wait_streaming() {
  for _ in $(seq 1 3000); do
    [ "$(api_get "${1#node}" /patroni 2>/dev/null | jq -r --arg b "$2" \
      'select(.postmaster_start_time != $b) | .state + " " + .replication_state')" = "running streaming" ] && return 0
    sleep 0.05
  done; echo "bench: $1 never streamed again" >&2; return 1; }

# The pgbench data set: database bench at scale $1 plus a small second database; the prod-like one dropped.
load_pgbench() {
  local scale=$1 rows size
  psql_leader -c "drop database if exists prod with (force)" >/dev/null
  rows=$(psql_leader -d bench -c "select count(*) from pgbench_branches" 2>/dev/null || echo 0)
  # A pgbench database bloated by earlier updates (about 15 MB per scale unit when fresh) is loaded again.
  size=$(psql_leader -c "select coalesce((select pg_database_size(datname) / 1048576 from pg_database
                                          where datname = 'bench'), 0)")
  if [ "$rows" != "$scale" ] || [ "$size" -gt $((scale * 20 + 64)) ]; then
    echo "loading pgbench scale $scale ..." >&2
    psql_leader -c "drop database if exists bench with (force)" -c "create database bench" >/dev/null
    PGPASSWORD=$SU_PASS pgbench -h 127.0.0.1 -p "$(leader_port)" -U postgres -i -s "$scale" -q bench >/dev/null 2>&1
    settle bench
  fi
  psql_leader -c "select 1 from pg_database where datname = 'small'" | grep -q 1 || {
    psql_leader -c "create database small" >/dev/null
    psql_leader -d small -c "create table t as select g id, md5(g::text) v from generate_series(1, 100000) g" >/dev/null; }
  psql_leader -c checkpoint >/dev/null
  wait_caught_up
}

# A data set that compresses like production data (2-4x): uuids, timestamps, numerics, random text, jsonb, with
# indexes; about $1 MB on disk. pgbench's database is dropped.
load_prodlike() {
  local mb=$1 have rows
  psql_leader -c "drop database if exists bench with (force)" >/dev/null
  have=$(psql_leader -c "select coalesce((select pg_database_size(datname) / 1048576 from pg_database
                                              where datname = 'prod'), 0)")
  if [ "$have" -lt $((mb * 8 / 10)) ]; then
    echo "loading a production-like database of about $mb MB ..." >&2
    rows=$((mb * 1048576 / 420))   # ~420 bytes per row with its indexes
    psql_leader -c "drop database if exists prod with (force)" -c "create database prod" >/dev/null
    psql_leader -d prod >/dev/null <<SQL
create table customers (id uuid primary key, name text, email text, created timestamptz, country char(2));
insert into customers
  select gen_random_uuid(), initcap(substr(md5(random()::text), 1, 6 + (random() * 10)::int)),
         substr(md5(random()::text), 1, 10) || '@example.' || (array['com','org','net'])[1 + (random() * 2)::int],
         now() - random() * interval '5 years', (array['DE','FR','US','RU','JP','BR'])[1 + (random() * 5)::int]
  from generate_series(1, greatest($rows / 20, 1000));
create table orders (id uuid primary key, customer uuid not null, placed timestamptz not null, amount numeric(12,2),
  status text, note text, attrs jsonb);
insert into orders
  select gen_random_uuid(), c.ids[1 + (random() * (array_length(c.ids, 1) - 1))::int],
         now() - random() * interval '3 years', round((random() * 5000)::numeric, 2),
         (array['new','paid','shipped','returned','cancelled'])[1 + (random() * 4)::int],
         case when random() < 0.7 then repeat(md5(random()::text), 1 + (random() * 2)::int) end,
         jsonb_build_object('channel', (array['web','app','phone'])[1 + (random() * 2)::int],
                            'items', (random() * 9)::int + 1, 'coupon', substr(md5(random()::text), 1, 8),
                            'score', round(random()::numeric, 4))
  from (select array_agg(id) ids from customers) c, generate_series(1, $rows) g;
create index on orders (customer);
create index on orders (placed);
create index on orders ((attrs->>'channel'));
SQL
    settle prod
  fi
  psql_leader -c checkpoint >/dev/null
  wait_caught_up
}

# A freshly loaded database is vacuumed (frozen, hint bits set) and analyzed at once, as long-lived data is: left to
# autovacuum, that work (and, with wal_log_hints, its full-page images) would land in the middle of the measurements.
settle() { psql_leader -d "$1" -c "vacuum (freeze, analyze)" >/dev/null; }

# Bytes the databases of the cluster take on disk.
cluster_bytes() { psql_leader -c "select sum(pg_database_size(datname)) from pg_database"; }

# Loading a data set leaves GBs of WAL for the archiver (when archiving is on) and for the replicas to replay: wait
# until both have caught up, so that neither competes with the runs measured next.
wait_caught_up() {
  local seg lsn deadline=$(( $(date +%s) + 900 ))
  lsn=$(psql_leader -c "select pg_current_wal_lsn()")
  while [ "$(psql_leader -c "select count(*) = 0 from pg_stat_replication where replay_lsn < '$lsn'")" != t ]; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "bench: the replicas did not catch up within 15 minutes" >&2; return 0; }
    sleep 1
  done
  [ "$(psql_leader -c 'show archive_mode')" = on ] || return 0
  seg=$(psql_leader -c "select pg_walfile_name(pg_switch_wal())")
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(psql_leader -c "select coalesce(last_archived_wal >= '$seg', false) from pg_stat_archiver")" = t ] && return 0
    sleep 1
  done
  echo "bench: the archiver did not catch up within 15 minutes" >&2
}
