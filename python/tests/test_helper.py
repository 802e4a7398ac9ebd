"""The target helper against the protocol, through in-memory streams and
through a real pipe (the reader thread, batches forming as lines arrive)."""

import io
import json
import os
import subprocess
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from gauntlet_target import Request, Verdict, serve, serve_batches  # noqa: E402


def lines(*objects):
    return io.StringIO("".join(json.dumps(o) + "\n" for o in objects))


def answers(out):
    return [json.loads(line) for line in out.getvalue().splitlines()]


def judge(request):
    if "boom" in request.text:
        raise RuntimeError("cannot judge this one")
    if "attack" in request.text:
        return Verdict("block", score=0.9, reasons=["attack-word"])
    return "allow"


class ServeOneAtATime(unittest.TestCase):
    def test_answers_each_case_and_keeps_serving_after_an_exception(self):
        out = io.StringIO()
        serve(judge, stdin=lines({"id": "a", "input": "hello"}, {"id": "b", "input": "boom"},
                                 {"id": "c", "input": "an attack"}), stdout=out)
        got = answers(out)
        self.assertEqual([a["id"] for a in got], ["a", "b", "c"])
        self.assertEqual(got[0], {"id": "a", "decision": "allow"})
        self.assertEqual(got[1], {"id": "b", "error": "RuntimeError: cannot judge this one"})
        self.assertEqual(got[2], {"id": "c", "decision": "block", "score": 0.9, "reasons": ["attack-word"]})

    def test_hello_conversations_egress_and_context_pass_through(self):
        seen = []

        def record(request):
            seen.append(request)
            return {"decision": "block", "blocked_at_turn": 1}

        out = io.StringIO()
        serve(record, name="demo", version="1.2", stdout=out, stdin=lines(
            {"hello": {"protocol": "gauntlet.target.v1", "name": "gauntlet", "version": "0.1.0"}},
            {"id": "conv", "messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "now attack"}],
             "context": {"session": "s1", "tenant": "acme"}},
            {"id": "out", "input": "card 4111", "direction": "egress", "context": {"prompt": "p"}},
        ))
        got = answers(out)
        self.assertEqual(got[0]["hello"]["name"], "demo")
        self.assertEqual(got[1], {"id": "conv", "decision": "block", "blocked-at-turn": 1})
        self.assertEqual(seen[0].text, "hi\nnow attack")
        self.assertEqual(seen[0].context["tenant"], "acme")
        self.assertEqual(seen[1].direction, "egress")
        self.assertEqual(seen[1].context, {"prompt": "p"})

    def test_an_invalid_decision_is_an_error_answer_not_a_guess(self):
        out = io.StringIO()
        serve(lambda r: "maybe", stdin=lines({"id": "x", "input": "?"}), stdout=out)
        self.assertIn("not one of allow, block, require_approval", answers(out)[0]["error"])


class ServeInBatches(unittest.TestCase):
    def test_a_batch_larger_than_the_cap_is_split_and_every_case_answered_in_order(self):
        calls = []

        def batch(requests):
            calls.append(len(requests))
            return [judge(r) if "boom" not in r.text else RuntimeError("bad case") for r in requests]

        requests = [{"id": f"c{i}", "input": "boom" if i == 7 else f"text {i}"} for i in range(150)]
        out = io.StringIO()
        serve_batches(batch, max_batch=64, stdin=lines(*requests), stdout=out)
        got = answers(out)
        self.assertEqual([a["id"] for a in got], [r["id"] for r in requests])
        self.assertTrue(all(n <= 64 for n in calls), calls)
        self.assertEqual(sum(calls), 150)
        self.assertEqual(got[7], {"id": "c7", "error": "RuntimeError: bad case"})
        self.assertEqual(got[8]["decision"], "allow")

    def test_an_exception_for_the_whole_batch_answers_every_case_with_an_error(self):
        def broken(requests):
            raise MemoryError("model fell over")

        out = io.StringIO()
        serve_batches(broken, stdin=lines({"id": "a", "input": "x"}, {"id": "b", "input": "y"}), stdout=out)
        self.assertEqual(answers(out), [{"id": "a", "error": "MemoryError: model fell over"},
                                        {"id": "b", "error": "MemoryError: model fell over"}])

    def test_a_wrong_number_of_answers_fails_the_batch(self):
        out = io.StringIO()
        serve_batches(lambda rs: ["allow"], stdin=lines({"id": "a", "input": "x"}, {"id": "b", "input": "y"}),
                      stdout=out)
        self.assertTrue(all("returned 1 answers for 2 requests" in a["error"] for a in answers(out)))

    def test_over_a_pipe_batches_take_what_is_waiting_and_answer_before_more_arrives(self):
        # The child answers each batch as soon as it is judged: a request
        # written after reading an answer must not be needed to finish it.
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent("""
                import sys
                sys.path.insert(0, sys.argv[1])
                from gauntlet_target import serve_batches
                serve_batches(lambda rs: ["allow" for r in rs], max_batch=8)
            """), os.path.join(os.path.dirname(__file__), "..")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            for i in range(3):
                child.stdin.write(json.dumps({"id": f"r{i}", "input": "x"}) + "\n")
                child.stdin.flush()
                self.assertEqual(json.loads(child.stdout.readline()), {"id": f"r{i}", "decision": "allow"})
        finally:
            child.stdin.close()
            child.wait(timeout=10)
            child.stdout.close()
        self.assertEqual(child.returncode, 0)


class RequestText(unittest.TestCase):
    def test_structured_input_is_judged_as_canonical_json(self):
        r = Request.from_json({"id": "s", "input": {"b": 1, "a": "x"}})
        self.assertEqual(r.text, '{"a": "x", "b": 1}')


if __name__ == "__main__":
    unittest.main()
