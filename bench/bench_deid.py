"""De-identification benchmark: precision and recall per type, and throughput.

The labelled corpus is generated from a seed (tests/support/pii_corpus.py):
planted values of every detector type, and look-alikes that are not PII
(order numbers, dates, times, versions, hashes, card numbers that fail Luhn,
IBANs with wrong check digits). Throughput runs over chat-like messages of
mostly clean text (a few planted values and look-alikes), one Redactor per
message, as a dataset build does.

    python bench/bench_deid.py                  # 4,000 labelled examples, 50 MB of text
    python bench/bench_deid.py --mb 200 --examples 20000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "python"))
sys.path.insert(0, str(PROJECT))

from tests.support.pii_corpus import clean_text, examples  # noqa: E402
from tests.support.pii_scoring import score  # noqa: E402

from trellis.datasets import deid  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=4000)
    parser.add_argument("--mb", type=float, default=50.0, help="MB of text for throughput")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()

    corpus = list(examples(seed=args.seed, count=args.examples))
    print(f"labelled corpus: {len(corpus)} examples (seed {args.seed})")
    print(f"{'type':<16} {'planted':>8} {'found':>6} {'fp':>4} {'precision':>10} {'recall':>8}")
    for kind, f in score(corpus).items():
        planted = int(f["tp"] + f["fn"])
        print(
            f"{kind:<16} {planted:>8} {int(f['tp']):>6} {int(f['fp']):>4} "
            f"{f['precision']:>10.4f} {f['recall']:>8.4f}"
        )

    lines = clean_text(args.seed, int(args.mb * 1_000_000)).split("\n")
    messages = ["\n".join(lines[i : i + 8]) for i in range(0, len(lines), 8)]
    size = sum(len(m.encode()) for m in messages)
    deid.find("warm up the compiled alternations: a@b.co 10.0.0.1")
    start = time.perf_counter()
    cpu_start = time.process_time()
    replaced = 0
    for message in messages:
        redactor = deid.Redactor()
        redactor.text(message)
        replaced += sum(redactor.replaced().values())
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    # Both clocks: on a shared machine the wall clock counts other people's
    # work; the CPU time is what one core of this machine gives the redactor.
    print(
        f"throughput: {size / 1e6:.1f} MB in {len(messages)} messages "
        f"(mean {size / len(messages):.0f} B), {replaced} values replaced: "
        f"{size / 1e6 / elapsed:.1f} MB/s wall ({elapsed:.2f} s), "
        f"{size / 1e6 / cpu:.1f} MB/s of CPU time ({cpu:.2f} s)"
    )


if __name__ == "__main__":
    main()
