#!/bin/bash
# Stops or starts one member of the test cluster (its Patroni, which stops or starts its PostgreSQL).
# Usage: node.sh stop|start N
set -euo pipefail
D="$(cd "$(dirname "$0")" && pwd)"; . "$D/env.sh"; . "$D/lib.sh"
case "${1:-}" in
  stop) stop_node "$2" ;;
  start) close_inherited_fds; start_node "$2" ;;
  *) echo "usage: $0 stop|start N" >&2; exit 64 ;;
esac
