"""alt-profanity-check (a scikit-learn model shipped inside its package) as
a gauntlet target, written with the gauntlet_target helper.

    python adapter.py                   # batched: one predict_prob call per batch of up to 64
    python adapter.py --max-batch 1024  # larger batches (give gauntlet a window as large)
    python adapter.py --unbatched       # one call per case, for comparison

Both give the same decisions and scores; batched is many times faster,
because the model's per-call overhead is paid once per batch.
"""

import sys

from profanity_check import predict_prob

from gauntlet_target import Verdict, serve, serve_batches

# The model's probability that a text is profane; at or above: block.
THRESHOLD = 0.5


def verdict(probability: float) -> Verdict:
    p = float(probability)
    if p >= THRESHOLD:
        return Verdict("block", score=p, reasons=["profanity"])
    return Verdict("allow", score=p)


def judge(request):
    return verdict(predict_prob([request.text])[0])


def judge_batch(requests):
    return [verdict(p) for p in predict_prob([r.text for r in requests])]


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--unbatched" in args:
        serve(judge, name="alt-profanity-check", version="1.9.1")
    else:
        max_batch = int(args[args.index("--max-batch") + 1]) if "--max-batch" in args else 64
        serve_batches(judge_batch, max_batch=max_batch, name="alt-profanity-check", version="1.9.1")
