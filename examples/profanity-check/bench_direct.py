"""The ceiling for the profanity-check target: the model called directly,
once, over every text of a gauntlet requests file (JSON lines), with no
protocol, pipes or batching in between.

    python bench_direct.py target/bench-data/cases-20000/requests.jsonl
"""

import json
import sys
import time

from profanity_check import predict_prob


def text(request):
    if "messages" in request:
        return "\n".join(str(m.get("content", "")) for m in request["messages"])
    value = request.get("input")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def main(path):
    with open(path, encoding="utf-8") as f:
        texts = [text(json.loads(line)) for line in f if line.strip()]
    predict_prob(texts[:10])  # loaded and warm, as the targets are after their probe
    start = time.perf_counter()
    predict_prob(texts)
    secs = time.perf_counter() - start
    print(f"direct: {len(texts)} texts in {secs:.2f} s = {len(texts) / secs:.0f} texts/s (one predict_prob call)")


if __name__ == "__main__":
    main(sys.argv[1])
