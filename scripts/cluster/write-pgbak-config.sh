#!/bin/bash
# Writes the pgbak configuration for the test cluster: $LAB/pgbak/pgbak.yml (owner postgres, 0600) and its copy
# member.yml (the members' replica method's),
# a libpq password file for the replication and dump users, the repository at $LAB/pgbak/repo.
# Usage: write-pgbak-config.sh [keep_last=7]
set -euo pipefail
D="$(cd "$(dirname "$0")" && pwd)"; . "$D/env.sh"
KEEP=${1:-7}
P="$LAB/pgbak"
install -d -o postgres -g postgres -m 0700 "$P"
printf '127.0.0.1:*:*:replicator:%s\n127.0.0.1:*:*:postgres:%s\n' "$REPL_PASS" "$SU_PASS" > "$P/cluster.pgpass"
printf '%s\n' "$API_PASS" > "$P/patroni.password"
cat > "$P/pgbak.yml" <<YAML
scope: $SCOPE
patroni:
  urls:
    - $(api_url 1)
    - $(api_url 2)
    - $(api_url 3)
  timeout_seconds: 2
  ca_file: $TLS/ca.crt
  username: $API_USER
  password_file: $P/patroni.password
postgres:$(
  # Client programs at least as new as the server (Debian's 15 serves 13-15); the server's own for restore tests.
  [ "$PG_MAJOR" -gt 15 ] && printf '\n  bin_dir: %s' "$PGBIN"
  [ "$PG_MAJOR" != 15 ] && printf '\n  server_bin_dirs:\n    - %s' "$PGBIN"; true)
  replication:
    user: replicator
    passfile: $P/cluster.pgpass
  dump:
    user: postgres
    passfile: $P/cluster.pgpass
repository:
  path: $P/repo
  owner: postgres
retention:
  keep_last: $KEEP
compression:
  level: 3
  threads: 2$(
  # 17+: base backups incremental on the previous one (the members run with summarize_wal, see gen-configs.sh).
  [ "$PG_MAJOR" -ge 17 ] && printf '\nbase_backup:\n  incremental: true'; true)
YAML
cp "$P/pgbak.yml" "$P/member.yml"   # what the members' replica method reads (see gen-configs.sh)
chown postgres:postgres "$P"/pgbak.yml "$P"/member.yml "$P"/*.pgpass "$P"/*.password
chmod 0600 "$P"/pgbak.yml "$P"/member.yml "$P"/*.pgpass "$P"/*.password
echo "$P/pgbak.yml"
