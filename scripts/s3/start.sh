#!/bin/bash
# Starts the local S3 store (see env.sh) and makes the bucket. --fresh wipes its data first. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../cluster/env.sh"; . "$HERE/../cluster/lib.sh"; . "$HERE/env.sh"; . "$HERE/lib.sh"
[ -x "$WEED" ] || { echo "s3/start.sh: $WEED is missing: run scripts/install-deps.sh" >&2; exit 1; }
if [ "${1:-}" = --fresh ]; then bash "$HERE/stop.sh" >/dev/null; rm -rf "$S3LAB"; fi
install -d -o postgres -g postgres -m 0700 "$S3LAB" "$S3LAB/run" "$S3LAB/log" "$S3LAB/master" "$S3LAB/filer" \
  "$S3LAB/volume1" "$S3LAB/volume2" "$S3LAB/volume3" "$S3_KEYS"
if [ ! -s "$S3_KEYS/secret_key" ]; then
  (umask 077; printf 'PGBAK%s' "$(openssl rand -hex 8 | tr a-f A-F)" > "$S3_KEYS/access_key"
   openssl rand -base64 30 | tr -d '\n/+=' > "$S3_KEYS/secret_key")
  chown postgres:postgres "$S3_KEYS/access_key" "$S3_KEYS/secret_key"
fi
(umask 077; python3 - "$S3_KEYS" > "$S3LAB/identities.json" <<'PY'
import json, sys
keys = sys.argv[1]
read = lambda name: open(f"{keys}/{name}").read().strip()
print(json.dumps({"identities": [{"name": "pgbak",
    "credentials": [{"accessKey": read("access_key"), "secretKey": read("secret_key")}],
    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
PY
)
chown postgres:postgres "$S3LAB/identities.json"
make_s3_tls
weed_start master "$S3_MASTER_PORT" master -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$S3_MASTER_PORT" \
  -mdir="$S3LAB/master" -defaultReplication=001 -volumeSizeLimitMB=256
for i in 1 2 3; do start_volume $i; done
weed_start filer "$S3_FILER_PORT" filer -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$S3_FILER_PORT" \
  -master="127.0.0.1:$S3_MASTER_PORT" -defaultReplicaPlacement=001 -defaultStoreDir="$S3LAB/filer"
start_s3_gateway
for _ in $(seq 1 100); do
  code=$(s3_curl PUT "$S3_BUCKET" || true)
  case "$code" in 200|409) echo "bucket $S3_BUCKET ready at $S3_ENDPOINT"; exit 0;; esac
  sleep 0.2
done
echo "s3/start.sh: cannot create bucket $S3_BUCKET (last HTTP status $code); see $S3LAB/log" >&2; exit 1
