#!/usr/bin/env python3
"""Take and release the run lock in a tight loop; print OVERLAP whenever another holder was inside at the same time
(the critical section creates a file with O_EXCL, which fails if a second holder is in it)."""
import os
import sys

from backfill_orchestrator.lock import LockHeld, acquire

logs, inside, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
held = 0
for i in range(n):
    try:
        lock = acquire(logs, "p", "wh", f"r{os.getpid()}-{i}")
    except LockHeld:
        continue
    try:
        os.close(os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        os.unlink(inside)
    except FileExistsError:
        print("OVERLAP", flush=True)
    lock.release()
    held += 1
print(f"held {held}", flush=True)
