#!/bin/bash
# Removes what scripts/install.sh installed (as root): stops and disables the timers, removes the binary, the units,
# the cron template and the documentation. The configuration in /etc/pgbak and the repository are kept; pass --purge
# to remove /etc/pgbak too (never the repository: backups are only ever removed by retention or by hand).
set -euo pipefail
D=${DESTDIR:-}
if [ -z "$D" ] && [ -d /run/systemd/system ]; then
  systemctl disable --now pgbak-backup.timer pgbak-verify.timer pgbak-status.timer 2>/dev/null || true
fi
rm -f "$D/usr/local/bin/pgbak" "$D/etc/systemd/system/pgbak-backup.service" "$D/etc/systemd/system/pgbak-backup.timer" \
  "$D/etc/systemd/system/pgbak-verify.service" "$D/etc/systemd/system/pgbak-verify.timer" \
  "$D/etc/systemd/system/pgbak-status.service" "$D/etc/systemd/system/pgbak-status.timer"
rm -rf "$D/usr/local/share/pgbak" "$D/usr/local/share/doc/pgbak"
if [ "${1:-}" = "--purge" ]; then rm -rf "$D/etc/pgbak"; else echo "kept $D/etc/pgbak (pass --purge to remove it)"; fi
if [ -z "$D" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "pgbak uninstalled"
