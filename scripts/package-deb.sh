#!/bin/bash
# Builds pgbak_<version>_amd64.deb for database and backup hosts (no Swift toolchain needed there): the release binary
# with the Swift standard library linked in, /etc/pgbak/pgbak.yml (the example, a conffile), the systemd units and
# templates, the crontab, the retention policies, bash and zsh completions and a man page generated from the command
# line's own definitions. Run as root from a checkout; prints the package's path.
# Usage: scripts/package-deb.sh [OUTPUT_DIR=.]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"; cd "$ROOT"
OUTDIR=$(realpath "${1:-.}")
command -v swift >/dev/null || export PATH="/opt/swift/usr/bin:$PATH"
command -v dpkg-deb >/dev/null && command -v objdump >/dev/null && command -v patchelf >/dev/null ||
  apt-get install -y -qq dpkg-dev binutils patchelf >/dev/null

# The man page first: ArgumentParser's generate-manual plugin builds pgbak in release mode without the static
# standard library, into the same directory; the packaged binary is built (linked again) after it.
MAN=$(mktemp -d)
trap 'rm -rf "$MAN"' EXIT
swift package --allow-writing-to-directory "$MAN" generate-manual --output-directory "$MAN" \
  --date "$(date -u +%Y-%m-%d)" --section 1 --authors 'the pgbak developers' >&2
swift build -c release --static-swift-stdlib >&2
BIN="$(swift build -c release --static-swift-stdlib --show-bin-path)/pgbak"
if ldd "$BIN" | grep -q libswiftCore; then
  echo "package-deb.sh: $BIN links the Swift runtime dynamically; remove .build/release and run again" >&2; exit 1
fi
VERSION=$("$BIN" --version)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE" "$MAN"' EXIT
P="$STAGE/pgbak_${VERSION}_amd64"

install -d "$P/DEBIAN" "$P/usr/bin" "$P/etc/pgbak" "$P/lib/systemd/system" "$P/usr/share/pgbak/policies" \
  "$P/usr/share/doc/pgbak" "$P/usr/share/man/man1" "$P/usr/share/bash-completion/completions" \
  "$P/usr/share/zsh/vendor-completions"
install -m 0755 "$BIN" "$P/usr/bin/pgbak"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$P/usr/bin/pgbak"
# The toolchain's library directory is not needed at run time (the Swift standard library is linked in).
patchelf --remove-rpath "$P/usr/bin/pgbak"
install -m 0644 examples/pgbak.yml "$P/etc/pgbak/pgbak.yml"
for unit in cron/*.service cron/*.timer; do
  sed -e 's#/usr/local/bin/pgbak#/usr/bin/pgbak#g' -e 's#file:///usr/local/share/doc/pgbak/README.md#man:pgbak(1)#' \
    "$unit" > "$P/lib/systemd/system/$(basename "$unit")"
  chmod 0644 "$P/lib/systemd/system/$(basename "$unit")"
done
sed 's#/usr/local/bin/pgbak#/usr/bin/pgbak#g' cron/pgbak.cron > "$P/usr/share/pgbak/pgbak.cron"
install -m 0644 policies/*.yml "$P/usr/share/pgbak/policies/"
"$BIN" --generate-completion-script bash | sed '1{/^#!/d}' > "$P/usr/share/bash-completion/completions/pgbak"
"$BIN" --generate-completion-script zsh > "$P/usr/share/zsh/vendor-completions/_pgbak"
chmod 0644 "$P/usr/share/bash-completion/completions/pgbak" "$P/usr/share/zsh/vendor-completions/_pgbak"

# The man page generated from the definitions of every subcommand (blank lines are not mdoc: groff warns).
sed '/^[[:space:]]*$/d' "$MAN/pgbak.1" | gzip -9n > "$P/usr/share/man/man1/pgbak.1.gz"

gzip -9n < README.md > "$P/usr/share/doc/pgbak/README.md.gz"
cat > "$P/usr/share/doc/pgbak/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: pgbak

Files: *
Copyright: 2026 the pgbak developers
License: proprietary
 No licence has been published for pgbak yet: all rights reserved.
COPYRIGHT
printf 'pgbak (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- pgbak maintainers <maintainers@pgbak.example.org>  %s\n' \
  "$VERSION" "$VERSION" "$(date -R)" | gzip -9n > "$P/usr/share/doc/pgbak/changelog.gz"
# Yams (the YAML parser) compiles libyaml's C sources into the binary, as every Swift package is linked statically:
# there is no system libyaml to link instead.
install -d "$P/usr/share/lintian/overrides"
cat > "$P/usr/share/lintian/overrides/pgbak" <<'OVERRIDES'
# Yams, a Swift package, compiles libyaml into the executable; Swift packages cannot link Debian's libyaml-0-2.
pgbak: embedded-library libyaml [usr/bin/pgbak]
OVERRIDES

# Depends: the package of every shared library the binary needs (libpq5, libzstd1, libcurl4, libc6, ...).
DEPENDS=$(objdump -p "$P/usr/bin/pgbak" | awk '/NEEDED/ {print $2}' | while read -r lib; do
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')
  [ -n "$path" ] || continue
  # With merged /usr the path dpkg knows may be the link's or the target's.
  { dpkg -S "$path" 2>/dev/null || dpkg -S "$(realpath "$path")" 2>/dev/null || true; } | head -1 | cut -d: -f1
done | sort -u | while read -r pkg; do
  printf '%s (>= %s)\n' "$pkg" "$(dpkg-query -W -f='${Version}' "$pkg" | sed 's/-[^-]*$//; s/^[0-9]*://')"
done | paste -sd, | sed 's/,/, /g')
cat > "$P/DEBIAN/control" <<CONTROL
Package: pgbak
Version: $VERSION
Architecture: amd64
Maintainer: pgbak maintainers <maintainers@pgbak.example.org>
Depends: $DEPENDS
Recommends: postgresql-client
Section: database
Priority: optional
Installed-Size: $(du -sk "$P" --exclude=DEBIAN | cut -f1)
Description: backups of Patroni-managed PostgreSQL clusters
 pgbak asks Patroni which member leads, takes a physical backup
 (pg_basebackup) and a logical one (pg_dump of every database) from it,
 verifies and restore-tests backups, re-seeds replicas through Patroni,
 keeps a WAL archive for point-in-time recovery, and keeps its repository
 in a directory or an S3 bucket, encrypted at rest if asked.
CONTROL
echo "/etc/pgbak/pgbak.yml" > "$P/DEBIAN/conffiles"
cat > "$P/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
# The configuration is read by the postgres OS user pgbak runs as: group postgres, not readable by others.
if [ "$1" = configure ] && getent group postgres >/dev/null; then
  chgrp postgres /etc/pgbak/pgbak.yml && chmod 0640 /etc/pgbak/pgbak.yml
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
POSTINST
cat > "$P/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
POSTRM
chmod 0755 "$P/DEBIAN/postinst" "$P/DEBIAN/postrm"
find "$P" -type d -exec chmod 0755 {} +
(cd "$P" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs md5sum > DEBIAN/md5sums)
dpkg-deb --root-owner-group -Zxz --build "$P" "$OUTDIR/pgbak_${VERSION}_amd64.deb" >&2
echo "$OUTDIR/pgbak_${VERSION}_amd64.deb"
