#!/usr/bin/env python3
"""Turns the benchmark's measurements into a table on stdout, a Markdown file and an SVG bar chart.

Usage: report.py RESULTS_TSV META_FILE OUT_MARKDOWN OUT_SVG
RESULTS_TSV rows: dataset, operation, seconds, peak RSS (KiB, 0 = not measured), bytes (0 = not measured).
META_FILE: key=value lines (date, machine, cores, load, command) printed above the tables.
"""
import statistics
import sys
from collections import defaultdict

LABELS = {
    "pgbak-physical": "pgbak now --physical-only",
    "pgbak-full": "pgbak now (physical + logical)",
    "raw-basebackup": "pg_basebackup -Ft -X stream, client-zstd:3, 2 workers",
    "raw-dumps": "pg_dump -Fc -Z0 | zstd -3 -T2, every database",
    "pgbackrest-full": "pgBackRest full backup (zst 3, process-max 2)",
    "barman-backup": "Barman backup (postgres, zstd 3, 2 workers)",
    "reseed-pgbak": "pgbak restore --node, to streaming",
    "reseed-reinit": "patronictl reinit (from the leader), to streaming",
    "reseed-pgbak-wal": "pgbak restore --node, after GBs of WAL",
    "reseed-reinit-wal": "patronictl reinit, after GBs of WAL",
    "materialize-pgbak": "pgbak restore --datadir (materialize)",
    "restore-pgbackrest": "pgbackrest restore --type=standby",
    "verify-pgbak": "pgbak verify (default level)",
    "verify-raw": "zstd -t + sha256sum, same files",
    "prune-pgbak": "pgbak prune (keep_last 2): what the runs left",
    "expire-pgbackrest": "pgbackrest expire (retention 2): what the runs left",
    "list": "pgbak list",
    "prune-dry-run": "pgbak prune --dry-run",
}
GROUPS = [
    ("backup", ["pgbak-physical", "pgbak-full", "raw-basebackup", "raw-dumps", "pgbackrest-full", "barman-backup"]),
    ("re-seed", ["reseed-pgbak", "reseed-reinit", "reseed-pgbak-wal", "reseed-reinit-wal"]),
    ("restore", ["materialize-pgbak", "restore-pgbackrest"]),
    ("verify", ["verify-pgbak", "verify-raw"]),
    ("deleting old backups", ["prune-pgbak", "expire-pgbackrest"]),
    ("bookkeeping", ["list", "prune-dry-run"]),
]


def load(path):
    data = defaultdict(lambda: defaultdict(list))
    order = []
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 5:
            continue
        dataset, op, seconds, rss, size = parts
        if dataset not in order:
            order.append(dataset)
        data[dataset][op].append((float(seconds), int(float(rss)), int(float(size))))
    return data, order


def median(values):
    return statistics.median(values) if values else 0.0


def summary(runs):
    t = [r[0] for r in runs]
    return {
        "t": median(t), "min": min(t), "max": max(t), "n": len(t),
        "rss": max(r[1] for r in runs) / 1024, "bytes": median([r[2] for r in runs]) / 1048576,
    }


def ratios(ops):
    """(description, value, target text, met) for the targets that this data set has measurements for."""
    s = {op: summary(runs) for op, runs in ops.items()}
    out = []

    def add(text, a, b, target, met, fmt="{:.2f}x"):
        if a in s and b in s and s[b]["t"] > 0:
            value = s[a]["t"] / s[b]["t"]
            out.append((text, fmt.format(value), target, met(value)))

    add("pgbak physical / raw pg_basebackup", "pgbak-physical", "raw-basebackup", "<= 1.05", lambda v: v <= 1.05)
    add("pgbak physical / pgBackRest full", "pgbak-physical", "pgbackrest-full", "<= 0.70", lambda v: v <= 0.70)
    if "pgbak-physical" in s and "pgbackrest-full" in s and s["pgbackrest-full"]["bytes"] > 0:
        v = s["pgbak-physical"]["bytes"] / s["pgbackrest-full"]["bytes"]
        out.append(("pgbak physical size / pgBackRest size", "{:.3f}".format(v), "0.95-1.05", 0.95 <= v <= 1.05))
    if all(k in s for k in ("pgbak-full", "raw-basebackup", "raw-dumps")):
        v = s["pgbak-full"]["t"] / (s["raw-basebackup"]["t"] + s["raw-dumps"]["t"])
        out.append(("pgbak now / raw tools one after another", "{:.2f}x".format(v), "<= 1.10", v <= 1.10))
    add("restore --node / patronictl reinit", "reseed-pgbak", "reseed-reinit", "<= 0.80", lambda v: v <= 0.80)
    add("  the same after GBs of WAL", "reseed-pgbak-wal", "reseed-reinit-wal", "(reported)", lambda v: True)
    add("materialize / pgbackrest restore", "materialize-pgbak", "restore-pgbackrest", "<= 1.00", lambda v: v <= 1.0)
    if "verify-pgbak" in s and "verify-raw" in s and s["verify-pgbak"]["t"] > 0:
        v = s["verify-raw"]["t"] / s["verify-pgbak"]["t"]
        out.append(("verify speed / (zstd -t + sha256sum)", "{:.2f}x".format(v), ">= 0.90", v >= 0.9))
    if "list" in s:
        out.append(("pgbak list", "{:.3f} s".format(s["list"]["t"]), "< 0.2 s", s["list"]["t"] < 0.2))
    pgbak_rss = [s[o]["rss"] for o in s if o.startswith(("pgbak", "materialize-pgbak", "verify-pgbak")) and s[o]["rss"]]
    if pgbak_rss:
        v = max(pgbak_rss)
        out.append(("pgbak peak RSS", "{:.0f} MB".format(v), "<= 100 MB", v <= 100))
    return out


def tables(data, order):
    text, md = [], []
    for dataset in order:
        ops = data[dataset]
        if dataset.startswith("scale-"):
            continue
        text.append("\n== " + dataset)
        md.append("\n### " + dataset + "\n")
        md.append("| operation | wall, median (min–max) | peak RSS | bytes |")
        md.append("|---|---|---|---|")
        for _, group in GROUPS:
            for op in group:
                if op not in ops:
                    continue
                s = summary(ops[op])
                wall = "{:.2f} s ({:.2f}–{:.2f})".format(s["t"], s["min"], s["max"])
                rss = "{:.0f} MB".format(s["rss"]) if s["rss"] else "–"
                size = "{:.1f} MB".format(s["bytes"]) if s["bytes"] else "–"
                text.append("{:<56} {:>24} {:>8} {:>11}".format(LABELS.get(op, op), wall, rss, size))
                md.append("| {} | {} | {} | {} |".format(LABELS.get(op, op).replace("|", "\\|"), wall, rss, size))
        rows = ratios(ops)
        if rows:
            text.append("")
            md.append("\n| ratio | measured | target | |")
            md.append("|---|---|---|---|")
            for name, value, target, met in rows:
                mark = "met" if met else "MISSED"
                text.append("{:<44} {:>10}  target {:<10} {}".format(name, value, target, mark))
                md.append("| {} | {} | {} | {} |".format(name.strip(), value, target, mark))
    scaling = [d for d in order if d.startswith("scale-")]
    if scaling:
        text.append("\n== cost growth (pgbak now, pgbench only)")
        md.append("\n### cost growth (pgbench only)\n")
        md.append("| scale | databases | pgbak now | per GB | physical only | per GB |")
        md.append("|---|---|---|---|---|---|")
        for d in scaling:
            full, phys = data[d].get("pgbak-full"), data[d].get("pgbak-physical")
            if not full:
                continue
            gb = median([r[2] for r in full]) / 2**30
            f = median([r[0] for r in full])
            p = median([r[0] for r in phys]) if phys else 0
            line = "{:<10} {:6.2f} GB  now {:6.2f} s = {:5.2f} s/GB   physical {:6.2f} s = {:5.2f} s/GB".format(
                d[6:], gb, f, f / gb, p, p / gb if gb else 0)
            text.append(line)
            md.append("| {} | {:.2f} GB | {:.2f} s | {:.2f} s/GB | {:.2f} s | {:.2f} s/GB |".format(
                d[6:], gb, f, f / gb, p, p / gb))
    return "\n".join(text), "\n".join(md)


def svg(data, order):
    rows = []
    for dataset in order:
        if dataset.startswith("scale-"):
            continue
        for title, group in GROUPS:
            present = [op for op in group if op in data[dataset]]
            if len(present) < 2:
                continue
            rows.append(("title", "{} — {}".format(dataset, title), None, None))
            top = max(summary(data[dataset][op])["t"] for op in present) or 1
            for op in present:
                rows.append(("bar", LABELS.get(op, op), summary(data[dataset][op])["t"], top))
    width, label_w, bar_w, h = 980, 400, 480, 22
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" '
           'font-size="13">'.format(width, 20 + h * len(rows))]
    y = 10
    for kind, label, value, top in rows:
        if kind == "title":
            out.append('<text x="4" y="{}" font-weight="bold">{}</text>'.format(y + 15, label))
        else:
            w = max(1, int(bar_w * value / top))
            colour = "#2b6cb0" if label.startswith("pgbak") else "#a0aec0"
            out.append('<text x="{}" y="{}" text-anchor="end">{}</text>'.format(label_w - 6, y + 15, label))
            out.append('<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'.format(label_w, y + 3, w, h - 6, colour))
            out.append('<text x="{}" y="{}">{:.2f} s</text>'.format(label_w + w + 6, y + 15, value))
        y += h
    out.append("</svg>")
    return "\n".join(out)


def main():
    results, meta_file, md_path, svg_path = sys.argv[1:5]
    data, order = load(results)
    meta = [line.strip() for line in open(meta_file) if line.strip()]
    text, md = tables(data, order)
    header = "\n".join(meta)
    print(header)
    print(text)
    with open(md_path, "w") as f:
        f.write("## pgbak benchmark\n\n" + "\n".join("- " + m for m in meta) + "\n" + md + "\n")
    with open(svg_path, "w") as f:
        f.write(svg(data, order) + "\n")


main()
