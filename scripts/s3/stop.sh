#!/bin/bash
# Stops the local S3 store's servers started by start.sh (by their recorded PIDs only).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../cluster/env.sh"; . "$HERE/../cluster/lib.sh"; . "$HERE/env.sh"; . "$HERE/lib.sh"
weed_stop s3 filer volume1 volume2 volume3 master
