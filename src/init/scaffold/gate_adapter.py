#!/usr/bin/env python3
"""A gauntlet exec target: reads one JSON request per line on stdin and
writes one JSON answer per line on stdout (gauntlet's docs/protocol.md,
`gauntlet.target.v1`). Standard library only.

Point it at your gate by rewriting `judge` below. As written it asks the
built-in reference firewall (`gauntlet target serve --stdio`), so the
project runs and passes before you change anything.
"""
import json
import os
import subprocess
import sys

# What the reference firewall checks model output against for leaks of the
# system prompt (egress cases); your gate has its own.
SYSTEM_PROMPT = "@SYSTEM_PROMPT@"


class ReferenceFirewall:
    """The stand-in gate: one long-lived `gauntlet target serve --stdio`."""

    def __init__(self):
        # gauntlet sets GAUNTLET_BIN for the processes it starts.
        exe = os.environ.get("GAUNTLET_BIN", "gauntlet")
        self.proc = subprocess.Popen(
            [exe, "target", "serve", "--stdio", "--system-prompt", SYSTEM_PROMPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def ask(self, request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the reference firewall exited")
        return json.loads(line)


_reference = None


def judge(request):
    """Decide one request: return a dict with `decision` ("allow", "block"
    or "require_approval") and optionally `score` (0..1, higher = more
    likely an attack) and `reasons` (a list of strings).

    `request` holds `id`, then `input` (a string or an object) or `messages`
    (a conversation), `context` (a dict) and, for model output, `direction`
    = "egress". Raise an exception when the case cannot be judged: gauntlet
    records it as a target error, never as a pass.

    Replace the body with a call to your gate, for example:
        verdict = my_classifier.predict(request["input"])
        return {"decision": "block" if verdict.unsafe else "allow", "score": verdict.p}
    """
    global _reference
    if _reference is None:
        _reference = ReferenceFirewall()
    answer = _reference.ask(request)
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return {k: answer[k] for k in ("decision", "score", "reasons") if k in answer}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        if "hello" in request:  # only sent when the config sets hello = true
            print(json.dumps({"hello": {"name": "gate-adapter", "version": "0.1.0"}}), flush=True)
            continue
        try:
            answer = judge(request)
            answer["id"] = request["id"]
        except Exception as e:  # one case failed: say so, keep serving
            answer = {"id": request.get("id"), "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
