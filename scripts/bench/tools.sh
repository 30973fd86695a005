# pgBackRest and Barman beside pgbak, for scripts/bench.sh: WAL archiving to pgBackRest and a Barman streaming slot,
# both switched on through Patroni's dynamic configuration and switched off again (slot dropped) by tools_off.
# Source after lib.sh.

PB="$LAB/pgbackrest"; BM="$LAB/barman"
PCTL="$VENV/bin/patronictl -c $CONF/node1.yml"
PGB() { as_pg pgbackrest --config="$PB/pgbackrest.conf" --stanza=x "$@"; }
BAR() { as_pg barman -c "$BM/barman.conf" "$@"; }

# The settings every benchmarked pgBackRest repository shares (after its repo1-* lines): its own log, lock and
# spool directories under $1, zst 3 with 2 processes, no expiry inside the timed runs, stanza x on member $2.
pgbackrest_common() {
  cat <<CONF
repo1-retention-full=1000
log-path=$1/log
lock-path=$1/lock
spool-path=$1/spool
log-level-console=warn
start-fast=y
compress-type=zst
compress-level=3
process-max=2

[x]
pg1-path=$DATA/node$2
pg1-port=$(pg_port "$2")
pg1-socket-path=$RUN
pg1-user=postgres
CONF
}

tools_write_configs() {
  local i; i=$(leader_name); i=${i#node}
  rm -rf "$PB" "$BM"; mkdir -p "$PB"/{repo,log,lock,spool} "$BM"/{home,conf.d}
  { printf '[global]\nrepo1-path=%s/repo\n' "$PB"; pgbackrest_common "$PB" "$i"; } > "$PB/pgbackrest.conf"
  cat > "$BM/barman.conf" <<CONF
[barman]
barman_home = $BM/home
barman_user = postgres
log_file = $BM/barman.log
log_level = WARNING
path_prefix = $PGBIN
configuration_files_directory = $BM/conf.d

[pg]
description = "pgbak benchmark"
conninfo = host=127.0.0.1 port=$(pg_port "$i") user=postgres dbname=postgres password=$SU_PASS
streaming_conninfo = host=127.0.0.1 port=$(pg_port "$i") user=replicator password=$REPL_PASS
backup_method = postgres
streaming_archiver = on
slot_name = barman
create_slot = auto
backup_compression = zstd
backup_compression_level = 3
backup_compression_workers = 2
backup_compression_format = tar
CONF
  chown -R postgres:postgres "$PB" "$BM"
}

# Archiving to pgBackRest on every member (archive_command runs in the data directory, so --pg1-path="$PWD" is the
# primary's), a permanent slot for Barman, and WAL kept long enough for a re-seed from an older backup.
tools_on() {
  tools_write_configs
  $PCTL edit-config --force -s 'slots.barman.type=physical' -p archive_mode=on -p wal_keep_size=8GB \
    -p "archive_command=pgbackrest --config=$PB/pgbackrest.conf --stanza=x --pg1-path=\"\$PWD\" archive-push %p" \
    >/dev/null
  sleep 3; $PCTL restart "$SCOPE" --force --pending >/dev/null; wait_healthy 180 >/dev/null
  PGB stanza-create >/dev/null; PGB check >/dev/null
  setsid setpriv --reuid=postgres --regid=postgres --init-groups env -i HOME=/var/lib/postgresql PATH=/usr/bin:/bin \
    barman -c "$BM/barman.conf" receive-wal pg > "$RUN/barman-receive-wal.log" 2>&1 < /dev/null &
  echo $! > "$RUN/barman-receive-wal.pid"; sleep 3
  BAR switch-wal --force --archive --archive-timeout 60 pg >/dev/null
}

# Leaves the cluster as it was: receive-wal stopped, archiving back to pgbak, wal_keep_size back, the slot dropped.
tools_off() {
  local pid
  BAR receive-wal --stop pg >/dev/null 2>&1 || true
  pid=$(cat "$RUN/barman-receive-wal.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -TERM "$pid"
  rm -f "$RUN/barman-receive-wal.pid"
  $PCTL edit-config --force -s 'slots.barman=null' -p archive_mode=on \
    -p "archive_command=$LAB/bin/pgbak wal-push --config $LAB/pgbak/pgbak.yml %p" -p wal_keep_size=256MB >/dev/null || true
  sleep 3; $PCTL restart "$SCOPE" --force --pending >/dev/null || true; wait_healthy 180 >/dev/null || true
  psql_leader -c "select pg_drop_replication_slot(slot_name) from pg_replication_slots
                  where slot_name = 'barman' and not active" >/dev/null || true
}
