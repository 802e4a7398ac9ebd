"""A fault-injection target: what it does with a case is written in the case.

Usage: fault_gate.py [--crash-after N] [--reverse] [--dead]
Reads requests one at a time, in order, and answers each before reading
the next (a sequential gate). The input text holds commands:
  sleep:MS   take MS milliseconds over this case
  crash      exit with status 3 on reading this case
  hang       never answer this case (and answer nothing after it)
  garbage    answer with a line that is not JSON instead of the answer
  unknown    answer with an id nobody asked for instead of the answer
  debug      print a stray non-JSON debug line before the answer
  error      answer with the protocol's error answer
  twice      answer twice
  attack     decide block (else allow)
Flags:
  --crash-after N  every process exits (status 3) after writing N answers
  --silent-after N after N answers from all its processes together (counted
                   in answered.count in the working folder), stays alive but
                   answers no case; it still answers the probe, unless
                   --silent-probe
  --reverse        answer each pair of requests in swapped order
  --dead           exit with status 1 at once, saying why on stderr
The probe (id gauntlet:probe) is answered at once.
"""
import json
import os
import sys
import time

ARGS = sys.argv[1:]
CRASH_AFTER = int(ARGS[ARGS.index("--crash-after") + 1]) if "--crash-after" in ARGS else None
REVERSE = "--reverse" in ARGS
SILENT_AFTER = int(ARGS[ARGS.index("--silent-after") + 1]) if "--silent-after" in ARGS else None
SILENT_PROBE = "--silent-probe" in ARGS
COUNT_FILE = "answered.count"


def answered_so_far():
    try:
        with open(COUNT_FILE) as f:
            return int(f.read() or 0)
    except FileNotFoundError:
        return 0


def count_answer():
    n = answered_so_far() + 1
    with open(COUNT_FILE, "w") as f:
        f.write(str(n))
if "--dead" in ARGS:
    sys.stderr.write("fault_gate: cannot load the model file\n")
    sys.exit(1)

written = 0
pending = []


def emit(obj):
    global written
    sys.stdout.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
    sys.stdout.flush()
    if not isinstance(obj, str):
        written += 1
    if CRASH_AFTER is not None and written >= CRASH_AFTER:
        os._exit(3)


for line in sys.stdin:
    req = json.loads(line)
    text = req.get("input") if isinstance(req.get("input"), str) else ""
    words = text.split()
    answer = {"id": req["id"], "decision": "block" if "attack" in words else "allow", "score": 0.5}
    silent = SILENT_AFTER is not None and answered_so_far() >= SILENT_AFTER
    if req["id"] == "gauntlet:probe":
        if not (silent and SILENT_PROBE):
            emit(answer)
        continue
    if silent:
        continue  # alive, reading, writing nothing
    if SILENT_AFTER is not None:
        count_answer()
    for w in words:
        if w.startswith("sleep:"):
            time.sleep(int(w[6:]) / 1000)
    if "crash" in words:
        sys.stderr.write("fault_gate: crashing on " + req["id"] + "\n")
        sys.stderr.flush()
        os._exit(3)
    if "hang" in words:
        time.sleep(3600)
    if "garbage" in words:
        emit("this is not json {")
        continue
    if "unknown" in words:
        emit(dict(answer, id="nobody-asked"))
        continue
    if "debug" in words:
        emit("DEBUG loaded rules in 3 ms")
    if "error" in words:
        emit({"id": req["id"], "error": "model unavailable"})
        continue
    if REVERSE:
        pending.append(answer)
        if len(pending) == 2:
            emit(pending[1])
            emit(pending[0])
            pending = []
        continue
    emit(answer)
    if "twice" in words:
        emit(answer)
