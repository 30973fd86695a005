#!/bin/bash
# Builds the Debian package (package-deb.sh), checks it with lintian (no errors), installs it with apt, runs the
# packaged /usr/bin/pgbak against the local test cluster (now, list, verify as the postgres user), then removes and
# purges it and checks that nothing of it is left. As root; starts the default cluster if it is not running (and
# stops it again).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; cd "$ROOT"
. scripts/cluster/env.sh; . scripts/cluster/lib.sh
DEB=$(bash scripts/package-deb.sh "$LAB")
echo "built $DEB ($(du -h "$DEB" | cut -f1))"
command -v lintian >/dev/null || apt-get install -y -qq lintian >/dev/null
lintian --fail-on error --display-info "$DEB" | tee "$LAB/lintian.txt" || { echo "lintian: errors (above)" >&2; exit 1; }
echo "lintian: no errors ($(grep -c '^[WIP]:' "$LAB/lintian.txt" || true) warnings/notes)"
dpkg -s pgbak >/dev/null 2>&1 && { echo "package-test.sh: pgbak is installed already; remove it first" >&2; exit 1; }
apt-get install -y -qq "$DEB" >/dev/null
STARTED=0
cleanup() {
  [ "$STARTED" = 1 ] && bash scripts/cluster/stop.sh >/dev/null 2>&1 || true
  dpkg -s pgbak >/dev/null 2>&1 && apt-get purge -y -qq pgbak >/dev/null 2>&1 || true
}
trap cleanup EXIT
/usr/bin/pgbak --version
[ -s /usr/share/man/man1/pgbak.1.gz ] && [ -s /usr/share/bash-completion/completions/pgbak ]
[ -f /lib/systemd/system/pgbak-backup@.timer ] && grep -q '^ExecStart=/usr/bin/pgbak now' /lib/systemd/system/pgbak-backup.service
ldd /usr/bin/pgbak | grep -q 'not found' && { echo "package-test.sh: a library the binary needs is missing" >&2; exit 1; }
ldd /usr/bin/pgbak | grep -qi swift && { echo "package-test.sh: the binary links a Swift runtime library" >&2; exit 1; }
bash scripts/cluster/write-pgbak-config.sh >/dev/null
if [ ! -f "$RUN/etcd.pid" ] || ! kill -0 "$(cat "$RUN/etcd.pid")" 2>/dev/null; then
  bash scripts/cluster/start.sh --fresh >/dev/null; STARTED=1
fi
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/var/lib/postgresql "$@"; }
as_postgres /usr/bin/pgbak now --config "$LAB/pgbak/pgbak.yml"
as_postgres /usr/bin/pgbak -c "$LAB/pgbak/pgbak.yml" list
as_postgres /usr/bin/pgbak verify --latest --config "$LAB/pgbak/pgbak.yml"
apt-get remove -y -qq pgbak >/dev/null
[ ! -e /usr/bin/pgbak ] && [ -f /etc/pgbak/pgbak.yml ] || { echo "package-test.sh: remove left the binary or took the configuration" >&2; exit 1; }
apt-get purge -y -qq pgbak >/dev/null
[ ! -e /etc/pgbak/pgbak.yml ] || { echo "package-test.sh: purge left /etc/pgbak/pgbak.yml" >&2; exit 1; }
echo "package-test.sh: installed, ran against the cluster, removed and purged: OK"
