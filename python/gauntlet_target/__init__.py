"""Turn a Python function into a gauntlet target.

gauntlet talks to an ``exec`` target over JSON lines (protocol
``gauntlet.target.v1``, see docs/protocol.md): one request per line on
stdin, one answer per line on stdout, matched by ``id``. This module speaks
it for you:

* ``serve(judge)`` calls ``judge(request)`` once per case.
* ``serve_batches(judge_batch, max_batch=64)`` hands ``judge_batch`` every
  request already waiting (up to ``max_batch``) in one call, so an ML
  classifier scores a batch at once instead of one case at a time. gauntlet
  keeps a window of requests in flight, so batches fill up by themselves.

A judge returns ``"allow"``, ``"block"`` or ``"require_approval"``, a
``Verdict``, or a mapping with the protocol's answer fields. An exception
for one case answers that case with the protocol's error answer (which
gauntlet never counts as a pass) and the target keeps serving; an exception
from ``judge_batch`` answers every case of that batch so. Conversations,
egress cases, ``context`` and the hello exchange pass through.

The module has no dependencies outside the standard library.
"""

from __future__ import annotations

import io
import json
import queue
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, IO, List, Mapping, Optional, Sequence, Union

__all__ = ["Request", "Verdict", "Answer", "serve", "serve_batches", "PROTOCOL"]

PROTOCOL = "gauntlet.target.v1"
DECISIONS = ("allow", "block", "require_approval")


@dataclass(frozen=True)
class Request:
    """One case as gauntlet sends it. The label is never sent."""

    id: str
    #: A string (a prompt, or a model response for egress) or a dict (a
    #: structured request); ``None`` for a conversation.
    input: Any = None
    #: A conversation: ``[{"role": ..., "content": ...}, ...]``.
    messages: Optional[List[Dict[str, Any]]] = None
    #: The case's context, with ``session`` (and ``tenant`` when set).
    context: Dict[str, Any] = field(default_factory=dict)
    #: ``"ingress"`` (a prompt) or ``"egress"`` (model output leaving).
    direction: str = "ingress"
    #: The whole request object, fields added by later protocol versions included.
    raw: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: Dict[str, Any]) -> "Request":
        return cls(
            id=str(obj["id"]),
            input=obj.get("input"),
            messages=obj.get("messages"),
            context=obj.get("context") or {},
            direction=obj.get("direction") or "ingress",
            raw=obj,
        )

    @property
    def text(self) -> str:
        """The text to judge: the input string, a structured input as JSON,
        or a conversation's message contents one per line."""
        if self.messages is not None:
            return "\n".join(str(m.get("content", "")) for m in self.messages)
        if isinstance(self.input, str):
            return self.input
        return json.dumps(self.input, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Verdict:
    """A judge's answer for one case."""

    decision: str
    #: In [0, 1], higher = more likely an attack; needed for calibration.
    score: Optional[float] = None
    reasons: Sequence[str] = ()
    #: For a conversation: the index of the message at which it was blocked.
    blocked_at_turn: Optional[int] = None


Answer = Union[str, Verdict, Mapping[str, Any]]


class _Eof:
    pass


_EOF = _Eof()


def _answer_line(case_id: str, answer: Answer) -> Dict[str, Any]:
    if isinstance(answer, str):
        out: Dict[str, Any] = {"decision": answer}
    elif isinstance(answer, Verdict):
        out = {"decision": answer.decision}
        if answer.score is not None:
            out["score"] = float(answer.score)
        if answer.reasons:
            out["reasons"] = [str(r) for r in answer.reasons]
        if answer.blocked_at_turn is not None:
            out["blocked-at-turn"] = int(answer.blocked_at_turn)
    elif isinstance(answer, Mapping):
        out = {str(k).replace("_", "-"): v for k, v in answer.items() if k != "id"}
    else:
        raise TypeError(f"a judge returns a decision string, a Verdict or a mapping, not {type(answer).__name__}")
    if out.get("decision") not in DECISIONS:
        raise ValueError(f"decision {out.get('decision')!r} is not one of {', '.join(DECISIONS)}")
    out["id"] = case_id
    return out


def _error_line(case_id: str, error: BaseException) -> Dict[str, Any]:
    return {"id": case_id, "error": f"{type(error).__name__}: {error}"[:500]}


def _hello(name: str, version: str) -> Dict[str, Any]:
    return {"hello": {"name": name, "version": version, "protocol": PROTOCOL}}


def _streams(stdin: Optional[IO[str]], stdout: Optional[IO[str]]):
    # UTF-8 whatever the locale says: case texts are anything.
    if stdin is None:
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    if stdout is None:
        stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", write_through=False)
    return stdin, stdout


def _parse(line: str) -> Optional[Dict[str, Any]]:
    """A request line as an object; ``None`` for a blank or unreadable line
    (said on stderr: without an id there is nothing to answer)."""
    line = line.strip()
    if not line:
        return None
    try:
        obj = json.loads(line)
    except ValueError as e:
        print(f"gauntlet_target: ignoring a line that is not JSON ({e})", file=sys.stderr)
        return None
    if not isinstance(obj, dict) or ("id" not in obj and "hello" not in obj):
        print("gauntlet_target: ignoring a line with neither id nor hello", file=sys.stderr)
        return None
    return obj


def _write(stdout: IO[str], objects: List[Dict[str, Any]]) -> None:
    for obj in objects:
        stdout.write(json.dumps(obj, ensure_ascii=False))
        stdout.write("\n")
    stdout.flush()


def serve(
    judge: Callable[[Request], Answer],
    *,
    name: str = "python-target",
    version: str = "0",
    stdin: Optional[IO[str]] = None,
    stdout: Optional[IO[str]] = None,
) -> None:
    """Answers each request with ``judge(request)``, one at a time, until
    stdin closes. Each answer is flushed at once."""
    stdin, stdout = _streams(stdin, stdout)
    for line in stdin:
        obj = _parse(line)
        if obj is None:
            continue
        if "hello" in obj:
            _write(stdout, [_hello(name, version)])
            continue
        request = Request.from_json(obj)
        try:
            out = _answer_line(request.id, judge(request))
        except Exception as e:  # one case failed: answer it so, keep serving
            out = _error_line(request.id, e)
        _write(stdout, [out])


def serve_batches(
    judge_batch: Callable[[List[Request]], Sequence[Union[Answer, BaseException]]],
    max_batch: int = 64,
    *,
    name: str = "python-target",
    version: str = "0",
    stdin: Optional[IO[str]] = None,
    stdout: Optional[IO[str]] = None,
) -> None:
    """Answers requests in batches: every request already waiting, up to
    ``max_batch``, goes to one ``judge_batch`` call, which returns one answer
    per request in order (an exception instance in its place answers that
    case with an error). Answers are flushed after each batch.

    A reader thread moves lines from stdin into a queue, so a batch never
    waits for a request that has not arrived (``select`` cannot see what
    Python has already buffered)."""
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    stdin, stdout = _streams(stdin, stdout)
    lines: "queue.Queue[Union[str, _Eof]]" = queue.Queue()

    def read() -> None:
        try:
            for line in stdin:
                lines.put(line)
        finally:
            lines.put(_EOF)

    threading.Thread(target=read, name="gauntlet-target-reader", daemon=True).start()
    done = False
    while not done:
        waiting: List[Union[str, _Eof]] = [lines.get()]
        while len(waiting) < max_batch and waiting[-1] is not _EOF:
            try:
                waiting.append(lines.get_nowait())
            except queue.Empty:
                break
        if waiting[-1] is _EOF:
            done = True
            waiting.pop()
        out: List[Dict[str, Any]] = []
        batch: List[Request] = []
        for line in waiting:
            obj = _parse(line)  # type: ignore[arg-type]
            if obj is None:
                continue
            if "hello" in obj:
                out.append(_hello(name, version))
            else:
                batch.append(Request.from_json(obj))
        if batch:
            out.extend(_judge_batch(judge_batch, batch))
        if out:
            _write(stdout, out)


def _judge_batch(
    judge_batch: Callable[[List[Request]], Sequence[Union[Answer, BaseException]]], batch: List[Request]
) -> List[Dict[str, Any]]:
    try:
        answers = list(judge_batch(batch))
        if len(answers) != len(batch):
            raise ValueError(f"judge_batch returned {len(answers)} answers for {len(batch)} requests")
    except Exception as e:  # the whole batch failed: every case says so
        return [_error_line(r.id, e) for r in batch]
    out = []
    for request, answer in zip(batch, answers):
        try:
            if isinstance(answer, BaseException):
                raise answer
            out.append(_answer_line(request.id, answer))
        except Exception as e:
            out.append(_error_line(request.id, e))
    return out
