#!/usr/bin/env python3
"""Builds a repository of N backups from one real backup, for timing `pgbak list` and `pgbak prune --dry-run`.

Usage: fake-history.py SOURCE_BACKUP_DIR TARGET_REPOSITORY N
Each copy hard-links the source's files and gets its own id (one per hour, going back from the source's), its own
start and finish times and a manifest checksum that matches; the target must be on the source's filesystem.
"""
import datetime
import hashlib
import json
import os
import sys

source, repository, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
manifest = json.load(open(os.path.join(source, "manifest.json")))
finished = datetime.datetime.strptime(manifest["backup_id"], "%Y%m%dT%H%M%SZ")
backups = os.path.join(repository, "backups")
os.makedirs(backups, mode=0o700, exist_ok=True)
for n in range(count):
    when = finished - datetime.timedelta(hours=n + 1)
    backup_id = when.strftime("%Y%m%dT%H%M%SZ")
    target = os.path.join(backups, backup_id)
    os.makedirs(target, mode=0o700)
    for root, dirs, files in os.walk(source):
        rel = os.path.relpath(root, source)
        if rel.startswith("verification"):
            continue
        for d in dirs:
            if d != "verification":
                os.makedirs(os.path.join(target, rel, d), mode=0o700, exist_ok=True)
        for f in files:
            if rel == "." and f in ("manifest.json", "manifest.sha256"):
                continue
            os.link(os.path.join(root, f), os.path.join(target, rel, f))
    copy = dict(manifest)
    copy["backup_id"] = backup_id
    copy["finished_at"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    copy["started_at"] = (when - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = json.dumps(copy, indent=2, sort_keys=True).encode()
    with open(os.path.join(target, "manifest.json"), "wb") as out:
        out.write(text)
    with open(os.path.join(target, "manifest.sha256"), "w") as out:
        out.write(hashlib.sha256(text).hexdigest() + "\n")
print(count)
