"""The worked example: alt-profanity-check through gauntlet, batched and one
case at a time, must give identical decisions and scores.

Needs alt-profanity-check (examples/profanity-check/requirements.txt) and
GAUNTLET_BIN; skipped without them unless GAUNTLET_REQUIRE_PROFANITY=1
(`.ci/run` sets it, so CI cannot skip it silently)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(ROOT, "examples", "profanity-check")

try:
    import profanity_check  # noqa: F401

    HAVE_MODEL = True
except ImportError:
    HAVE_MODEL = False

REQUIRED = os.environ.get("GAUNTLET_REQUIRE_PROFANITY") == "1"


def run(project, batched):
    config = os.path.join(project, "gauntlet.toml")
    args = '["{}", "adapter.py"{}]'.format(sys.executable, "" if batched else ', "--unbatched"')
    with open(config, "w") as f:
        f.write('[target]\nkind = "exec"\ncommand = {}\nwindow = 256\n\n'
                '[run]\ncorpora = ["corpora", "{}"]\ngates = "gates"\n'.format(args, os.path.join(ROOT, "corpora", "bundled")))
    out = os.path.join(project, "reports-" + ("batched" if batched else "unbatched"))
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    done = subprocess.run([os.environ["GAUNTLET_BIN"], "run", "--quiet", "--out", out], cwd=project, env=env,
                          capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise AssertionError(f"gauntlet exited {done.returncode}: {done.stderr}")
    with open(os.path.join(out, "results.jsonl")) as f:
        return {r["id"]: (r["decision"], r["score"], r.get("error")) for r in map(json.loads, f)}


@unittest.skipUnless(HAVE_MODEL or REQUIRED, "alt-profanity-check is not installed")
class BatchedEqualsUnbatched(unittest.TestCase):
    def test_the_same_decisions_and_scores_through_gauntlet(self):
        self.assertIn("GAUNTLET_BIN", os.environ, "set GAUNTLET_BIN to the gauntlet binary")
        with tempfile.TemporaryDirectory() as tmp:
            project = os.path.join(tmp, "profanity")
            shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("reports", "gauntlet.toml"))
            batched, unbatched = run(project, True), run(project, False)
        self.assertGreater(len(batched), 600)
        self.assertEqual(batched, unbatched)
        self.assertTrue(all(error is None for _, _, error in batched.values()))
        decisions = {d for d, _, _ in batched.values()}
        self.assertEqual(decisions, {"allow", "block"}, "the model blocks the abusive cases and allows the rest")


if __name__ == "__main__":
    unittest.main()
