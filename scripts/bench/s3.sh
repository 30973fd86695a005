# The repository in the bucket, for scripts/bench.sh: on the pgbench data set, `pgbak now` (whole, and
# --physical-only) to the local S3 store (SeaweedFS, multi-server) vs to the POSIX repository vs pgBackRest to the
# same store (repo1-type=s3, zst 3,
# process-max 2, over the gateway's TLS port, as pgBackRest speaks only HTTPS to S3); then materializing a data
# directory from the bucket (pgbak restore --datadir vs pgbackrest restore --type=standby); peak RSS of each.
# Encryption at rest (repository.encryption.key_file) on both drivers: the same backups and materializations with a
# key, against the same without one.
# Source after lib.sh and tools.sh; needs the store running (scripts/s3/start.sh).

. "$ROOT/scripts/s3/env.sh"
PB3="$LAB/pgbackrest-s3"

s3_write_configs() {
  local i; i=$(leader_name); i=${i#node}
  S3_CONFIG=$(bash "$ROOT/scripts/s3/write-pgbak-config.sh" "bench-$$")
  sed -i -e "s#^  keep_last: .*#  keep_last: 1000#" -e "s#^  path: .*#  path: $OUT/s3-local#" "$S3_CONFIG"
  rm -rf "$PB3"; mkdir -p "$PB3"/{log,lock,spool}
  # archive-check=n: nothing archives this stanza's WAL; the timed restore writes the files only (--type=standby).
  (umask 077; {
    cat <<CONF
[global]
repo1-type=s3
repo1-path=/pgbackrest-bench-$$
repo1-s3-bucket=$S3_BUCKET
repo1-s3-endpoint=127.0.0.1
repo1-storage-port=$S3_HTTPS_PORT
repo1-storage-ca-file=$S3_TLS/ca.crt
repo1-s3-region=us-east-1
repo1-s3-uri-style=path
repo1-s3-key=$(cat "$S3_KEYS/access_key")
repo1-s3-key-secret=$(cat "$S3_KEYS/secret_key")
archive-check=n
CONF
    pgbackrest_common "$PB3" "$i"; } > "$PB3/pgbackrest.conf")
  chown -R postgres:postgres "$PB3"
  as_pg pgbackrest --config="$PB3/pgbackrest.conf" --stanza=x stanza-create >/dev/null
  # The same two repositories, encrypted: a key of their own, a directory of their own.
  local key="$OUT/repository.key"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$key"
  ENC_POSIX_CONFIG="$OUT/pgbak-encrypted.yml"
  ENC_S3_CONFIG="$OUT/pgbak-s3-encrypted.yml"
  sed -e "s#^  path: .*#  path: $OUT/encrypted-repo#" -e "s#^repository:#repository:\n  encryption:\n    key_file: $key#" \
    "$NOW_CONFIG" > "$ENC_POSIX_CONFIG"
  sed -e "s#^  path: .*#  path: $OUT/s3-encrypted-local#" -e "s#^    prefix: .*#    prefix: bench-encrypted-$$#" \
    -e "s#^repository:#repository:\n  encryption:\n    key_file: $key#" "$S3_CONFIG" > "$ENC_S3_CONFIG"
  chown postgres:postgres "$key" "$ENC_POSIX_CONFIG" "$ENC_S3_CONFIG"
  chmod 600 "$key" "$ENC_POSIX_CONFIG" "$ENC_S3_CONFIG"
}

s3_newest() {
  as_pg "$LAB/bin/pgbak" list --config "${1:-$S3_CONFIG}" 2>/dev/null |
    awk '$1 ~ /^[0-9]+T[0-9]+Z$/ {id = $1} END {print id}'
}
s3_pgbak_now() {
  timed_pgbak now --config "$S3_CONFIG"
  record "$DS" pgbak-s3-full "$T" "$M" 0
}
s3_pgbak_physical() {
  timed_pgbak now --physical-only --config "$S3_CONFIG"
  record "$DS" pgbak-s3-physical "$T" "$M" 0
}
s3_posix_now() {
  timed_pgbak now --config "$NOW_CONFIG"
  record "$DS" pgbak-posix-full "$T" "$M" "$(du -sb "$REPO/backups/$(newest)" | cut -f1)"
}
s3_pgbackrest() {
  timed_pg pgbackrest --config="$PB3/pgbackrest.conf" --stanza=x backup --type=full
  record "$DS" pgbackrest-s3-full "$T" "$M" 0
}
s3_materialize_pgbak() { materialize_from "$S3_CONFIG" materialize-pgbak-s3; }
enc_posix_now() {
  timed_pgbak now --config "$ENC_POSIX_CONFIG"
  record "$DS" pgbak-posix-full-encrypted "$T" "$M" 0
}
enc_s3_now() {
  timed_pgbak now --config "$ENC_S3_CONFIG"
  record "$DS" pgbak-s3-full-encrypted "$T" "$M" 0
}
# materialize_from CONFIG OP: restore --datadir of CONFIG's newest backup, recorded as OP.
materialize_from() { materialize_backup "$1" "$(s3_newest "$1")" "$2"; }
materialize_posix() { materialize_from "$NOW_CONFIG" materialize-pgbak-posix; }
materialize_posix_encrypted() { materialize_from "$ENC_POSIX_CONFIG" materialize-pgbak-posix-encrypted; }
materialize_s3_encrypted() { materialize_from "$ENC_S3_CONFIG" materialize-pgbak-s3-encrypted; }
s3_restore_pgbackrest() {
  local d="$OUT/s3-pgbackrest-restore"; rm -rf "$d"; install -d -o postgres -m 0700 "$d"
  timed_pg pgbackrest --config="$PB3/pgbackrest.conf" --stanza=x --pg1-path="$d" restore --type=standby
  record "$DS" restore-pgbackrest-s3 "$T" "$M" "$(du -sb "$d" | cut -f1)"
  rm -rf "$d"
}

s3_bench() {
  DS="s3-pgbench-$SCALE"
  s3_write_configs
  local i
  for i in $(seq 1 "$RUNS"); do
    echo "$DS: backups, run $i/$RUNS ..." >&2
    if [ "${SKIP_TOOLS:-0}" = 1 ]; then
      in_order "$i" s3_posix_now enc_posix_now s3_pgbak_now enc_s3_now s3_pgbak_physical
    else
      in_order "$i" s3_posix_now enc_posix_now s3_pgbak_now enc_s3_now s3_pgbak_physical s3_pgbackrest
    fi
  done
  for i in $(seq 1 "$RUNS"); do
    echo "$DS: materialize from the bucket, run $i/$RUNS ..." >&2
    if [ "${SKIP_TOOLS:-0}" = 1 ]; then
      in_order "$i" materialize_posix materialize_posix_encrypted s3_materialize_pgbak materialize_s3_encrypted
    else
      in_order "$i" materialize_posix materialize_posix_encrypted s3_materialize_pgbak materialize_s3_encrypted \
        s3_restore_pgbackrest
    fi
  done
  s3_report
}

# Medians side by side, with the issue's targets.
s3_report() {
  python3 - "$OUT/results.tsv" "$DS" <<'PY' | tee "$OUT/s3.md"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.startswith(sys.argv[2] + "\t")]
med = lambda op, i: statistics.median(float(r[i]) for r in rows if r[1] == op) if any(r[1] == op for r in rows) else float("nan")
t = lambda op: med(op, 2)
rss = lambda op: med(op, 3) / 1024
print(f"## {sys.argv[2]}: the repository in the bucket (medians)\n")
print("| operation | seconds | peak RSS MB |")
print("|---|---|---|")
ops = ["pgbak-posix-full", "pgbak-posix-full-encrypted", "pgbak-s3-full", "pgbak-s3-full-encrypted",
       "pgbak-s3-physical", "pgbackrest-s3-full", "materialize-pgbak-posix", "materialize-pgbak-posix-encrypted",
       "materialize-pgbak-s3", "materialize-pgbak-s3-encrypted", "restore-pgbackrest-s3"]
for op in ops:
    if any(r[1] == op for r in rows):
        print(f"| {op} | {t(op):.2f} | {rss(op):.0f} |")
print()
checks = [
    ("backup to S3 / POSIX backup", t("pgbak-s3-full") / t("pgbak-posix-full"), 1.15),
    # pgBackRest takes the physical backup only: compared with pgbak's physical part, as the POSIX benchmark does.
    ("physical backup to S3 / pgBackRest to S3", t("pgbak-s3-physical") / t("pgbackrest-s3-full"), 0.7),
    ("materialize from S3 / pgBackRest restore from S3", t("materialize-pgbak-s3") / t("restore-pgbackrest-s3"), 1.0),
    ("encrypted / plain: backup, POSIX", t("pgbak-posix-full-encrypted") / t("pgbak-posix-full"), 1.10),
    ("encrypted / plain: backup, S3", t("pgbak-s3-full-encrypted") / t("pgbak-s3-full"), 1.10),
    ("encrypted / plain: materialize, POSIX", t("materialize-pgbak-posix-encrypted") / t("materialize-pgbak-posix"), 1.10),
    ("encrypted / plain: materialize, S3", t("materialize-pgbak-s3-encrypted") / t("materialize-pgbak-s3"), 1.10),
]
for name, ratio, target in checks:
    print(f"- {name}: {ratio:.2f}x (target <= {target}) {'met' if ratio <= target else 'MISSED'}")
worst = max(rss(op) for op in ops if op.startswith(("pgbak", "materialize")) and any(r[1] == op for r in rows))
print(f"- peak RSS of pgbak (bucket and encryption): {worst:.0f} MB (target <= 100) {'met' if worst <= 100 else 'MISSED'}")
PY
}
