#!/usr/bin/env python3
"""The WAL archive benchmark's table from wal.tsv. Usage: wal-report.py wal.tsv PITR_WAL_GB LOAD_SECONDS"""
import statistics
import sys
from collections import defaultdict

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
pitr_gb, seconds = sys.argv[2], sys.argv[3]
archive = defaultdict(list)
pitr = defaultdict(list)
loss = []
for row in rows:
    if row[0] == "archive":
        _, name, mb, tgen, tall, cpu, p50, p99 = row
        archive[name].append((float(mb), float(tgen), float(tall), float(cpu), float(p50), float(p99)))
    elif row[0] == "pitr":
        pitr[row[1]].append((float(row[2]), row[3]))
    elif row[0] == "loss":
        loss.append(row[2:])


def med(values):
    return statistics.median(values) if values else float("nan")


print(f"### WAL archive (pgbench -N -c 4 -j 2 for {seconds} s per run; medians of the runs)\n")
print("| | pgbak wal-push | pgBackRest archive-push (async, process-max 2) | target |")
print("|---|---|---|---|")
names = ["pgbak", "pgbackrest"]


def line(label, f, fmt, target=""):
    cells = [fmt.format(med([f(r) for r in archive[n]])) if archive[n] else "-" for n in names]
    print(f"| {label} | {cells[0]} | {cells[1]} | {target} |")


line("WAL generated, MB/s", lambda r: r[0] / r[1], "{:.1f}")
line("archived, MB/s (until all archived)", lambda r: r[0] / r[2], "{:.1f}")
line("left to archive when the load stopped, s", lambda r: r[2] - r[1], "{:.1f}", "no growing lag")
line("archive lag p50, MB", lambda r: r[4], "{:.0f}")
line("archive lag p99, MB", lambda r: r[5], "{:.0f}")
line("CPU per archived GB, s", lambda r: r[3] / (r[0] / 1024), "{:.2f}", "<= pgBackRest's")
if archive["pgbak"] and archive["pgbackrest"]:
    a = med([r[3] / (r[0] / 1024) for r in archive["pgbak"]])
    b = med([r[3] / (r[0] / 1024) for r in archive["pgbackrest"]])
    print(f"| CPU ratio pgbak / pgBackRest | {a / b:.2f}x | | <= 1.0 {'met' if a <= b else 'MISSED'} |")
print()
for acked, restored, lost in loss:
    print(f"Data-loss window: the leader killed (Patroni and postmaster) under a one-row-per-commit load: {acked} "
          f"commits acknowledged, {restored} in a recovery to the end of the archive: {lost} lost.")
print()
if pitr["pgbak"] and pitr["pgbackrest"]:
    a, b = med([t for t, _ in pitr["pgbak"]]), med([t for t, _ in pitr["pgbackrest"]])
    same = {r for _, r in pitr["pgbak"]} == {r for _, r in pitr["pgbackrest"]}
    print(f"### Point-in-time recovery of a backup plus {pitr_gb} GB of WAL, until promoted\n")
    print("| pgbak restore --to-time --start | pgbackrest restore --type=time + start | ratio | target |")
    print("|---|---|---|---|")
    print(f"| {a:.1f} s | {b:.1f} s | {a / b:.2f}x | <= 0.8 {'met' if a <= 0.8 * b else 'MISSED'} |")
    print(f"\nBoth recovered the same rows of the marker table: {'yes' if same else 'NO'} "
          f"({', '.join(sorted({r for _, r in pitr['pgbak']}))}).")
