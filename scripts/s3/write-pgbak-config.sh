#!/bin/bash
# Writes $LAB/pgbak/pgbak-s3.yml: the test cluster's pgbak configuration (see ../cluster/write-pgbak-config.sh) with
# the repository in the local S3 store's bucket below prefix $1 (default "lab"), and $LAB/pgbak/s3-local as this
# host's working directory. Run scripts/s3/start.sh first (it makes the key files).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../cluster/env.sh"; . "$HERE/env.sh"
PREFIX=${1:-lab}
P="$LAB/pgbak"
[ -f "$P/pgbak.yml" ] || bash "$HERE/../cluster/write-pgbak-config.sh" >/dev/null
[ -s "$S3_KEYS/secret_key" ] || { echo "s3/write-pgbak-config.sh: no keys in $S3_KEYS: run scripts/s3/start.sh" >&2; exit 1; }
sed '/^repository:/,/^[a-z]/{/^repository:/d;/^  /d}' "$P/pgbak.yml" > "$P/pgbak-s3.yml.tmp"
cat >> "$P/pgbak-s3.yml.tmp" <<YAML
repository:
  path: $P/s3-local
  owner: postgres
  s3:
    endpoint: $S3_ENDPOINT
    bucket: $S3_BUCKET
    prefix: $PREFIX
    region: us-east-1
    uri_style: path
    access_key_file: $S3_KEYS/access_key
    secret_key_file: $S3_KEYS/secret_key
YAML
chown postgres:postgres "$P/pgbak-s3.yml.tmp"; chmod 0600 "$P/pgbak-s3.yml.tmp"; mv "$P/pgbak-s3.yml.tmp" "$P/pgbak-s3.yml"
echo "$P/pgbak-s3.yml"
