#!/bin/bash
# Builds the release binary and installs pgbak (as root):
#   /usr/local/bin/pgbak
#   /etc/pgbak/pgbak.yml            the commented example, only when no configuration is there (owner postgres, 0600)
#   /etc/pgbak/policies/*.yml       retention policy files (existing ones are kept)
#   /etc/systemd/system/pgbak-{backup,verify}.{service,timer}
#   /usr/local/share/pgbak/pgbak.cron, /usr/local/share/doc/pgbak/README.md
# Timers are not enabled: edit /etc/pgbak/pgbak.yml, then `systemctl enable --now pgbak-backup.timer pgbak-verify.timer pgbak-status.timer`
# (or copy pgbak.cron to /etc/cron.d/). DESTDIR=/some/dir stages the files there instead; PGBAK_BIN=path skips the build.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; cd "$ROOT"
OWNER=${PGBAK_OWNER:-postgres}
D=${DESTDIR:-}
if [ -z "${PGBAK_BIN:-}" ]; then
  command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
  swift build -c release --static-swift-stdlib >/dev/null
  PGBAK_BIN="$(swift build -c release --static-swift-stdlib --show-bin-path)/pgbak"
fi
install -d -m 0755 "$D/usr/local/bin" "$D/etc/systemd/system" "$D/usr/local/share/pgbak" "$D/usr/local/share/doc/pgbak"
install -m 0755 "$PGBAK_BIN" "$D/usr/local/bin/pgbak"
install -d -m 0750 -o "$OWNER" -g "$OWNER" "$D/etc/pgbak" "$D/etc/pgbak/policies"
if [ -e "$D/etc/pgbak/pgbak.yml" ]; then
  echo "kept the existing $D/etc/pgbak/pgbak.yml"
else
  install -m 0600 -o "$OWNER" -g "$OWNER" examples/pgbak.yml "$D/etc/pgbak/pgbak.yml"
  echo "installed the example configuration $D/etc/pgbak/pgbak.yml: edit it before the first run"
fi
for policy in policies/*.yml; do
  target="$D/etc/pgbak/policies/$(basename "$policy")"
  [ -e "$target" ] || install -m 0640 -o "$OWNER" -g "$OWNER" "$policy" "$target"
done
install -m 0644 cron/*.service cron/*.timer "$D/etc/systemd/system/"
install -m 0644 cron/pgbak.cron "$D/usr/local/share/pgbak/pgbak.cron"
install -m 0644 README.md "$D/usr/local/share/doc/pgbak/README.md"
if [ -z "$D" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "pgbak $("$D/usr/local/bin/pgbak" --version) installed"
