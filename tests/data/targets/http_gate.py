"""A test HTTP gate with scripted misbehaviour, for gauntlet's http target tests.

Usage: http_gate.py MODE  (prints "listening on http://127.0.0.1:PORT")
Modes:
  ok            answers {"verdict": ALLOW|DENY, "risk": s, "why": [...]} (block when "ignore" in input)
  flaky500      every case fails with 500 on its first attempt, then succeeds
  throttle429   429 with Retry-After: 0 on the first attempt of each case, then succeeds
  throttle429bare  429 without Retry-After on the first attempt of each case, then succeeds
  always503     always 503
  notfound      always 404 (a wrong URL path)
  selferror     the protocol's error answer {"error": ...} (status 200) for inputs with "ignore"
  slow          sleeps 3 s before answering
  boolean       answers {"flagged": true|false}
  serial10      as ok, but one request at a time, 10 ms each (capacity 100/s)
  failopen:N    as ok, 20 ms each; with more than N requests in flight it
                allows everything, and appends the `ref` of each request it
                would have blocked to the file named by GATE_FAILOPEN_LOG
In every mode, an input holding "sleep:MS" takes MS milliseconds (the
server handles requests concurrently, one thread each).
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[1] if len(sys.argv) > 1 else "ok"
SEEN = set()
LOCK = threading.Lock()
SERIAL = threading.Lock()
IN_FLIGHT = [0]


def judge(payload):
    text = json.dumps(payload.get("prompt", payload.get("input", "")))
    return "ignore" in text.lower()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the
    # body waits for the client's delayed ACK, 40 ms on every answer.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.reply(404, {"error": "no version here"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        payload = json.loads(self.rfile.read(length) or b"{}")
        for word in json.dumps(payload.get("prompt", payload.get("input", ""))).strip('"').split():
            if word.startswith("sleep:"):
                time.sleep(int(word[6:]) / 1000)
        key = json.dumps(payload, sort_keys=True)
        with LOCK:
            first = key not in SEEN
            SEEN.add(key)
        if MODE == "flaky500" and first:
            return self.reply(500, {"error": "transient"})
        if MODE == "throttle429" and first:
            return self.reply(429, {"error": "slow down"}, [("Retry-After", "0")])
        if MODE == "throttle429bare" and first:
            return self.reply(429, {"error": "slow down"})
        if MODE == "always503":
            return self.reply(503, {"error": "down"})
        if MODE == "notfound":
            return self.reply(404, {"error": "no such route"})
        if MODE == "slow":
            time.sleep(3)
        blocked = judge(payload)
        if MODE == "serial10":
            with SERIAL:
                time.sleep(0.010)
        if MODE.startswith("failopen:"):
            with LOCK:
                IN_FLIGHT[0] += 1
                busy = IN_FLIGHT[0] > int(MODE.split(":")[1])
            time.sleep(0.020)
            with LOCK:
                IN_FLIGHT[0] -= 1
                if busy and blocked:
                    with open(os.environ["GATE_FAILOPEN_LOG"], "a") as log:
                        log.write(f"{payload.get('ref')}\n")
            if busy:
                blocked = False
        if MODE == "selferror" and blocked:
            return self.reply(200, {"error": "classifier unavailable"})
        if MODE == "boolean":
            return self.reply(200, {"flagged": blocked})
        self.reply(200, {"verdict": "DENY" if blocked else "ALLOW", "risk": 0.9 if blocked else 0.1, "why": ["test"]})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
