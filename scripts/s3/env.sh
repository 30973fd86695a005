# Settings of pgbak's local S3 store: a real multi-server SeaweedFS on 127.0.0.1 (one master, three volume servers
# with replication 001 = every object on two of them, a filer and the S3 gateway with one identity).
# Source after scripts/cluster/env.sh. Only PGBAK_-prefixed variables are read from the environment:
# PGBAK_WEED_VENV (/opt/pgbak-seaweedfs), PGBAK_S3_PORT (8333), PGBAK_S3_HTTPS_PORT (8433), PGBAK_S3_MASTER_PORT
# (9333), PGBAK_S3_VOLUME_PORT_BASE (8081), PGBAK_S3_FILER_PORT (8888).
WEED_VENV=${PGBAK_WEED_VENV:-/opt/pgbak-seaweedfs}
WEED=$WEED_VENV/bin/weed
S3LAB=$LAB/s3
S3_MASTER_PORT=${PGBAK_S3_MASTER_PORT:-9333}
S3_VOLUME_PORT_BASE=${PGBAK_S3_VOLUME_PORT_BASE:-8081}   # volume1=8081 volume2=8082 volume3=8083
S3_FILER_PORT=${PGBAK_S3_FILER_PORT:-8888}
S3_PORT=${PGBAK_S3_PORT:-8333}
S3_HTTPS_PORT=${PGBAK_S3_HTTPS_PORT:-8433}   # the same gateway over TLS (a CA of its own in $S3LAB/tls), as pgBackRest needs
S3_BUCKET=pgbak
S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
S3_TLS="$S3LAB/tls"
S3_KEYS="$S3LAB/keys"     # access_key, secret_key: files the postgres user reads, never on a command line
export S3_HTTPS_PORT S3_TLS WEED_VENV WEED S3LAB S3_MASTER_PORT S3_VOLUME_PORT_BASE S3_FILER_PORT S3_PORT S3_BUCKET S3_ENDPOINT S3_KEYS
volume_port() { echo $((S3_VOLUME_PORT_BASE + $1 - 1)); }
