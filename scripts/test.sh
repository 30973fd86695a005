#!/bin/bash
# Runs pgbak's whole test suite on a fresh Debian 12 machine (as root): installs what it needs, builds, starts the
# local 3-node Patroni cluster and the S3 store (a multi-server SeaweedFS, scripts/s3/), runs the unit and integration
# tests against them, and stops both again.
# Integration tests fail (never skip) here: the cluster is required.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; cd "$ROOT"
. scripts/cluster/env.sh
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
[ "${PGBAK_SKIP_INSTALL:-0}" = 1 ] || bash scripts/install-deps.sh
swift build --build-tests
# The binary runs as the postgres OS user: give it a copy it can reach whatever the checkout's permissions.
install -d -m 0755 "$LAB" "$LAB/bin"
install -m 0755 "$(swift build --show-bin-path)/pgbak" "$LAB/bin/pgbak"
STARTED=0
S3_STARTED=0
cleanup() {
  [ "$STARTED" = 1 ] && bash scripts/cluster/stop.sh >/dev/null 2>&1 || true
  [ "$S3_STARTED" = 1 ] && bash scripts/s3/stop.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT
bash scripts/cluster/write-pgbak-config.sh >/dev/null   # archive_command reads it from the first WAL segment on
if [ -f "$RUN/etcd.pid" ] && kill -0 "$(cat "$RUN/etcd.pid")" 2>/dev/null; then
  echo "test cluster already running; using it"
else
  bash scripts/cluster/start.sh --fresh; STARTED=1
fi
. scripts/s3/env.sh
if [ -f "$S3LAB/run/s3.pid" ] && kill -0 "$(cat "$S3LAB/run/s3.pid")" 2>/dev/null; then
  echo "S3 store already running; using it"
else
  bash scripts/s3/start.sh --fresh; S3_STARTED=1
fi
LOG="$LAB/swift-test.log"
set +e
PGBAK_BIN="$LAB/bin/pgbak" PGBAK_LAB="$LAB" PGBAK_REQUIRE_CLUSTER=1 swift test --skip-build 2>&1 | tee "$LOG"
STATUS=${PIPESTATUS[0]}
set -e
# One plain summary line from Swift Testing's own.
passed=$(grep -cE '^✔ Test .*\) passed' "$LOG" || true)
failed=$(grep -cE '^✘ Test .*\) failed' "$LOG" || true)
echo "tests: $passed passed, $failed failed"
if [ "$STATUS" != 0 ] || [ "$failed" != 0 ] || [ "$passed" = 0 ]; then exit 1; fi
