"""A test gate speaking gauntlet's JSON-lines protocol, with scripted faults.

Usage: exec_gate.py MODE [MARKER_FILE]
Per-request behaviour is chosen by markers in the input text:
  HANG     never answer (the harness must time out and restart us)
  GARBAGE  answer with a line that is not JSON
  UNKNOWN  answer with an id nobody asked for
  DUP      answer twice
Modes:
  ok        answer in order
  reverse   answer each pair of requests in reverse order
  slow      sleep 20 ms before each answer
  slowstart sleep 1.5 s before reading anything, then answer like slow
  crash1    crash (exit 3) on the 6th request of the first process only (uses MARKER_FILE)
  crashloop crash on the 3rd request, every time
  quit      exit cleanly after reading the 3rd request, without answering it
  stateful  block any session seen three times (risk kept per session)
  noscore   answer in order with a decision only (no score, no reasons)
Decisions: block when the input mentions "attack", else allow.
With EXEC_GATE_LOG set, every request's id is appended to that file.
"""
import json
import os
import sys
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "ok"
MARKER = sys.argv[2] if len(sys.argv) > 2 else None


SESSIONS = {}


def answer(req):
    text = json.dumps(req.get("input", ""))
    # Stateful: risk accumulates per session; a session seen 3 times blocks.
    session = (req.get("context") or {}).get("session")
    SESSIONS[session] = SESSIONS.get(session, 0) + 1
    if MODE == "stateful" and SESSIONS[session] >= 3:
        return {"id": req["id"], "decision": "block", "score": 1.0, "reasons": ["session-risk"]}
    decision = "block" if "attack" in text else "allow"
    if MODE == "noscore":
        return {"id": req["id"], "decision": decision}
    return {"id": req["id"], "decision": decision, "score": 0.9 if decision == "block" else 0.1, "reasons": ["test"]}


def emit(obj):
    sys.stdout.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
    sys.stdout.flush()


first_process = MARKER is not None and not os.path.exists(MARKER)
if first_process:
    open(MARKER, "w").close()

if MODE == "slowstart":
    time.sleep(1.5)  # loading a model, say: longer than the test's timeout

LOG = open(os.environ["EXEC_GATE_LOG"], "a") if os.environ.get("EXEC_GATE_LOG") else None

pending = []
count = 0
for line in sys.stdin:
    req = json.loads(line)
    count += 1
    if LOG:
        LOG.write(req["id"] + "\n")
        LOG.flush()
    text = json.dumps(req.get("input", ""))
    if MODE == "crash1" and first_process and count == 6:
        sys.stderr.write("exec_gate: crashing on purpose\n")
        sys.stderr.flush()
        os._exit(3)
    if MODE == "crashloop" and count == 3:
        os._exit(3)
    if MODE == "quit" and count == 3:
        sys.exit(0)
    if "HANG" in text:
        continue
    if "GARBAGE" in text:
        emit("this is not json {")
        continue
    if "UNKNOWN" in text:
        emit(dict(answer(req), id="nobody-asked"))
        continue
    if MODE in ("slow", "slowstart"):
        time.sleep(0.02)
    if MODE == "reverse":
        pending.append(req)
        if len(pending) == 2:
            for r in reversed(pending):
                emit(answer(r))
            pending = []
        continue
    emit(answer(req))
    if "DUP" in text:
        emit(answer(req))
for r in reversed(pending):
    emit(answer(r))
