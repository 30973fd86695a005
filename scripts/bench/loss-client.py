#!/usr/bin/env python3
"""Writes one row per transaction into table loss until the server goes away; prints each committed id at once.
Usage: loss-client.py HOST PORT   (password in PGPASSWORD). Run with Patroni's venv python (it has psycopg)."""
import sys

import psycopg

conn = psycopg.connect(host=sys.argv[1], port=int(sys.argv[2]), user="postgres", dbname="postgres", autocommit=True)
i = 0
try:
    while True:
        i += 1
        conn.execute("insert into loss (id) values (%s)", (i,))
        print(i, flush=True)
except Exception as error:  # the leader was killed
    print(f"stopped: {error.__class__.__name__}", file=sys.stderr)
