#!/bin/bash
# Generates node1.yml..node3.yml into $CONF from env.sh settings.
set -euo pipefail
. "$(dirname "$0")/env.sh"
mkdir -p "$CONF"; chmod 755 "$LAB" "$CONF"
if [ ! -s "$TLS/server.crt" ]; then
  # A throw-away CA and a certificate for 127.0.0.1 that every node's REST API presents.
  mkdir -p "$TLS"; chmod 755 "$TLS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=pgbak test CA" \
    -keyout "$TLS/ca.key" -out "$TLS/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$TLS/server.key" -out "$TLS/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$TLS/server.ext"
  openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" -CAcreateserial -days 3650 \
    -extfile "$TLS/server.ext" -out "$TLS/server.crt" 2>/dev/null
  chown postgres:postgres "$TLS"/server.key "$TLS"/ca.key; chmod 0600 "$TLS"/server.key "$TLS"/ca.key
  chmod 0644 "$TLS"/ca.crt "$TLS"/server.crt
fi
# PGBAK_BOOTSTRAP_TO_TIME='...': the cluster is bootstrapped by pgbak's bootstrap method from a backup recovered to that
# moment (a lost cluster brought back), instead of initdb.
BOOTSTRAP_METHOD=
if [ -n "${PGBAK_BOOTSTRAP_TO_TIME:-}" ]; then
  BOOTSTRAP_METHOD="  method: pgbak
  pgbak:
    command: $LAB/bin/pgbak bootstrap-method --config $LAB/pgbak/pgbak.yml
    to-time: '$PGBAK_BOOTSTRAP_TO_TIME'
    recovery_conf:
      restore_command: $LAB/bin/pgbak wal-fetch --config $LAB/pgbak/pgbak.yml %f %p
      recovery_target_time: '$PGBAK_BOOTSTRAP_TO_TIME'
      recovery_target_action: promote
      recovery_target_timeline: latest"
fi
# 17+: the WAL summaries incremental base backups are taken against.
SUMMARIZE_WAL=
if [ "$PG_MAJOR" -ge 17 ]; then SUMMARIZE_WAL='    summarize_wal: "on"'; fi
for i in 1 2 3; do
  P=$(pg_port $i); A=$(api_port $i)
  cat > "$CONF/node$i.yml" <<YAML
scope: $SCOPE
name: node$i

log:
  level: INFO

restapi:
  listen: 127.0.0.1:$A
  connect_address: 127.0.0.1:$A
  certfile: $TLS/server.crt
  keyfile: $TLS/server.key
  cafile: $TLS/ca.crt
  authentication:
    username: $API_USER
    password: $API_PASS

etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT_PORT

bootstrap:
$BOOTSTRAP_METHOD
  dcs:
    ttl: 20            # Patroni 4.1.5 clamps ttl to >= 20 (config.py _validate_and_adjust_timeouts)
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        max_connections: 100
        wal_retrieve_retry_interval: 1s   # replicas retry streaming fast (slot appears ~1 loop after member registers)
        # Continuous archiving into pgbak's repository (the WAL archive behind point-in-time recovery).
        archive_mode: "on"
        archive_timeout: 60s
        archive_command: $LAB/bin/pgbak wal-push --config $LAB/pgbak/pgbak.yml %p
  initdb:
    - encoding: UTF8
    - data-checksums
    - locale: C.UTF-8

postgresql:
  listen: 127.0.0.1:$P
  connect_address: 127.0.0.1:$P
  data_dir: $DATA/node$i
  bin_dir: $PGBIN
  pgpass: $RUN/pgpass.node$i
  # Patroni's own connections go through the socket (local: trust): Patroni 3.0 connects before it has set the
  # superuser's password, which the scram-sha-256 lines for TCP would refuse.
  use_unix_socket: true
  # Replicas are created from pgbak's backups when one qualifies, else by pg_basebackup from the leader.
  create_replica_methods:
    - pgbak
    - basebackup
  # A replica (and a re-seeded member) catches up from the archive when the leader has recycled the WAL it needs.
  recovery_conf:
    restore_command: $LAB/bin/pgbak wal-fetch --config $LAB/pgbak/pgbak.yml %f %p
  pgbak:
    # member.yml is pgbak.yml unless a test points the members at another repository (the S3 one).
    command: $LAB/bin/pgbak replica-method --config $LAB/pgbak/member.yml
    member: node$i
    keep_data: false
  authentication:
    replication:
      username: replicator
      password: $REPL_PASS
    superuser:
      username: postgres
      password: $SU_PASS
  parameters:
    unix_socket_directories: $RUN
    shared_buffers: 64MB
    password_encryption: scram-sha-256   # 13's default is md5, which the scram-sha-256 lines below refuse
$SUMMARIZE_WAL
  pg_hba:
    - local   all          all                     trust
    - host    replication  replicator  127.0.0.1/32  scram-sha-256
    - host    all          all         127.0.0.1/32  scram-sha-256

watchdog:
  mode: off

tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
YAML
done
chmod 0644 "$CONF"/node*.yml
echo "wrote $CONF/node{1,2,3}.yml"
