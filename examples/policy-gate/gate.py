"""A small policy engine speaking gauntlet's target protocol (exec, JSON lines).

Requests carry a structured `input`: {"agent", "action", "resource", "risk-score"}.
Policy: destructive actions on production and anything with risk >= 0.8 are
denied; writes to production, payments and risk >= 0.5 need approval; the rest
is allowed. `score` is the risk it computed, for calibration.
"""
import json
import sys

DESTRUCTIVE = {"delete", "drop_table", "disable_audit_log", "rotate_root_keys", "wipe"}
WRITES = {"write", "deploy", "update", "create"}


def decide(req):
    p = req.get("input") or {}
    action = str(p.get("action", ""))
    resource = str(p.get("resource", ""))
    risk = float(p.get("risk-score", 0.0))
    production = resource.startswith("prod/")
    if action in DESTRUCTIVE and production or risk >= 0.8:
        return "block", max(risk, 0.9), ["destructive-on-production" if action in DESTRUCTIVE else "high-risk"]
    if action == "transfer_funds" or (action in WRITES and production) or risk >= 0.5:
        return "require_approval", max(risk, 0.5), ["needs-approval"]
    return "allow", risk, []


for line in sys.stdin:
    req = json.loads(line)
    decision, score, reasons = decide(req)
    sys.stdout.write(json.dumps({"id": req["id"], "decision": decision, "score": round(score, 3), "reasons": reasons}) + "\n")
    sys.stdout.flush()
