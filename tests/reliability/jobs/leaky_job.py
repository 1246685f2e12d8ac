#!/usr/bin/env python3
"""A job that fails at once and quotes the credential it was given (API_TOKEN) in its fatal line, as a library's
error message may: the orchestrator relays fatal lines, and must mask the secret when it does."""
import os
import sys

print("[jobkit] START job=leaky dates=1 workers=1 pid=%d" % os.getpid(), flush=True)
print(f"FATAL: authentication failed with token {os.environ.get('API_TOKEN', '')}", flush=True)
sys.exit(1)
