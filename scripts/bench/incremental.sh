# Incremental base backups, for scripts/bench.sh on a PostgreSQL 17+ cluster (PGBAK_PG=17 scripts/cluster/start.sh):
# on the pgbench data set, each run takes a full base backup (pgbak now --physical-only --full), updates CHANGE_PCT %
# of pgbench_accounts' rows, a range of keys as an OLTP day changes its recent rows (CHANGE=scattered: every
# 100/CHANGE_PCT-th row instead, which touches most of the table's pages), then takes the
# incremental one on it two ways: pgbak now --physical-only and raw pg_basebackup --incremental with the full
# backup's backup_manifest (client zstd 3, 2 workers), in alternating order; then materializes a data directory from
# the full backup and from the incremental one (its chain combined by pg_combinebackup). Prints time, bytes and peak
# RSS side by side with the targets. Source after lib.sh.

INCR_CHANGE_PCT=${CHANGE_PCT:-1}

incr_newest() { ls "$REPO/backups" | tail -1; }
incr_full() {
  timed_pgbak now --physical-only --full --config "$NOW_CONFIG"
  INCR_FULL=$(incr_newest)
  record "$DS" pgbak-full-physical "$T" "$M" "$(du -sb "$REPO/backups/$INCR_FULL/physical" | cut -f1)"
}
incr_pgbak() {
  timed_pgbak now --physical-only --config "$NOW_CONFIG"
  INCR_ID=$(incr_newest)
  grep -q '"incremental"' "$REPO/backups/$INCR_ID/manifest.json" \
    || { echo "bench: $INCR_ID is not incremental" >&2; return 1; }
  record "$DS" pgbak-incremental-physical "$T" "$M" "$(du -sb "$REPO/backups/$INCR_ID/physical" | cut -f1)"
}
incr_raw() {
  local d="$OUT/raw-incremental"; rm -rf "$d"
  timed_pg env PGPASSFILE="$LAB/pgbak/cluster.pgpass" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$(leader_port)" \
    -U replicator -w -D "$d" -Ft -X stream -c fast --compress=client-zstd:level=3,workers=2 \
    --incremental="$REPO/backups/$INCR_FULL/physical/backup_manifest"
  record "$DS" raw-basebackup-incremental "$T" "$M" "$(du -sb "$d" | cut -f1)"
  rm -rf "$d"
}
incr_materialize_full() { materialize_backup "$NOW_CONFIG" "$INCR_FULL" materialize-full; }
incr_materialize_incremental() { materialize_backup "$NOW_CONFIG" "$INCR_ID" materialize-incremental; }

incremental_bench() {
  DS="incremental-pgbench-$SCALE"
  local i major where
  major=$(psql_leader -c "show server_version_num"); major=$((major / 10000))
  [ "$major" -ge 17 ] || { echo "bench: incremental backups need PostgreSQL 17+ (the cluster runs $major)" >&2; return 1; }
  for i in $(seq 1 "$RUNS"); do
    echo "$DS: full, $INCR_CHANGE_PCT % of the accounts updated, incremental, run $i/$RUNS ..." >&2
    incr_full
    if [ "${CHANGE:-range}" = scattered ]; then where="aid % $((100 / INCR_CHANGE_PCT)) = $i"
    else where="aid > $((SCALE * 100000 * (i - 1) * INCR_CHANGE_PCT / 100)) and aid <= $((SCALE * 100000 * i * INCR_CHANGE_PCT / 100))"; fi
    psql_leader -d bench -c "update pgbench_accounts set abalance = abalance + 1 where $where" -c checkpoint >/dev/null
    wait_caught_up
    in_order "$i" incr_pgbak incr_raw
    in_order "$i" incr_materialize_full incr_materialize_incremental
  done
  incremental_report
}

incremental_report() {
  python3 - "$OUT/results.tsv" "$DS" "$INCR_CHANGE_PCT" "${CHANGE:-range}" <<'PY' | tee "$OUT/incremental.md"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.startswith(sys.argv[2] + "\t")]
med = lambda op, i: statistics.median(float(r[i]) for r in rows if r[1] == op)
t, rss, size = (lambda op: med(op, 2)), (lambda op: med(op, 3) / 1024), (lambda op: med(op, 4) / 2**20)
print(f"## {sys.argv[2]}: incremental base backups after {sys.argv[3]} % of the accounts changed ({sys.argv[4]}; medians)\n")
print("| operation | seconds | MiB stored | peak RSS MB |")
print("|---|---|---|---|")
ops = ["pgbak-full-physical", "pgbak-incremental-physical", "raw-basebackup-incremental", "materialize-full",
       "materialize-incremental"]
for op in ops:
    print(f"| {op} | {t(op):.2f} | {size(op):.1f} | {rss(op):.0f} |")
print()
checks = [
    ("incremental / full: time", t("pgbak-incremental-physical") / t("pgbak-full-physical"), 0.6, "x"),
    ("incremental / full: bytes", size("pgbak-incremental-physical") / size("pgbak-full-physical"), 0.3, "x"),
    # A sub-second backup is mostly pgbak's fixed cost (Patroni, the leader's confirmation, the repository's
    # listing): held to a constant, not a ratio.
    ("pgbak incremental - raw pg_basebackup --incremental",
     t("pgbak-incremental-physical") - t("raw-basebackup-incremental"), 0.25, " s"),
]
for name, value, target, unit in checks:
    print(f"- {name}: {value:.2f}{unit} (target <= {target}{unit.strip()}) {'met' if value <= target else 'MISSED'}")
# The price of the chain, shown without a target: a restore materializes every backup of it and pg_combinebackup
# writes each changed relation file whole (here pgbench_accounts, 1.3 GB of the 1.5 GB cluster, for 1 % of its rows;
# 17 copies every unchanged file too, 18 links it).
ratio = t("materialize-incremental") / t("materialize-full")
print(f"- materialize incremental (chain of 2) / full: {ratio:.2f}x (the chain's price; no target)")
worst = max(rss(op) for op in ops if not op.startswith("raw"))
print(f"- peak RSS of pgbak: {worst:.0f} MB (target <= 100) {'met' if worst <= 100 else 'MISSED'}")
PY
}
