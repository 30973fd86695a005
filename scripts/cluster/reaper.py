#!/usr/bin/env python3
"""Runs a command (a member's Patroni) as the child of a process that reaps orphans at once, as systemd does.

Usage: reaper.py PIDFILE COMMAND [ARG...]

Patroni starts PostgreSQL through a helper that exits, so the postmaster is an orphan. Without a subreaper it goes to
PID 1, and on a machine whose init reaps late (this lab's VM: up to ~1.5 s) every stop of PostgreSQL by Patroni waits
that long for the dead postmaster to be reaped. This process marks itself a child subreaper, starts COMMAND, writes
the command's PID to PIDFILE, forwards TERM, INT and HUP to it, reaps every orphan as it dies, and exits with the
command's status once the command has exited.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 64
    pidfile, argv = sys.argv[1], sys.argv[2:]
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("reaper.py: prctl(PR_SET_CHILD_SUBREAPER) failed", file=sys.stderr)
    child = os.fork()
    if child == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    with open(pidfile + ".tmp", "w") as f:
        f.write(f"{child}\n")
    os.replace(pidfile + ".tmp", pidfile)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: os.kill(child, signum))
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 0
        if pid == child:
            return os.waitstatus_to_exitcode(status) & 0xFF


if __name__ == "__main__":
    sys.exit(main())
