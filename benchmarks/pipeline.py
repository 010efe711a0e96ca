"""Benchmark: the embedded pipeline on a generated stream.

Prints events/s, per-event latency p50/p99, the cost of the batch commits, and the
resident set size after 50k events and at the end (memory must not grow with the
stream). Pinned to one core.

    python benchmarks/pipeline.py --events 200000 --customers 10000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import load_policy
from proactive.generate import generate_lines
from proactive.pipeline import Engine, Outputs
from proactive.rules import load_ruleset
from proactive.sinks import JsonlSink
from proactive.store import ContextStore, sqlite_url

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument(
        "--checkpoint", type=int, default=50_000, help="measure RSS after this many events"
    )
    ap.add_argument("--rules", type=Path, default=ROOT / "rules")
    ap.add_argument("--policy", type=Path, default=ROOT / "ethics" / "policy.yaml")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    t0 = time.perf_counter()
    lines = [
        (line, f"gen:{n}")
        for n, line in enumerate(generate_lines(args.customers, args.events, args.seed), 1)
    ]
    gen_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        engine = Engine(
            load_ruleset(args.rules),
            EthicsCheck(load_policy(args.policy)),
            ContextStore(sqlite_url(out / "state.sqlite")),
            Outputs(
                JsonlSink(out / "decisions.jsonl"),
                JsonlSink(out / "notifications.jsonl"),
                JsonlSink(out / "dead-letter.jsonl"),
            ),
            batch_size=args.batch_size,
        )
        rss_start = rss_mb()
        rss_checkpoint = None
        started = time.perf_counter()
        for i in range(0, len(lines), args.batch_size):
            engine.process_batch(lines[i : i + args.batch_size])
            if rss_checkpoint is None and i + args.batch_size >= args.checkpoint:
                rss_checkpoint = rss_mb()
        engine.finish()
        elapsed = time.perf_counter() - started
        rss_end = rss_mb()
        engine.outputs.close()
        lat = sorted(engine.latencies)
        s = engine.summary
        figures = {
            "events": len(lines),
            "customers": args.customers,
            "generate_s": round(gen_s, 2),
            "elapsed_s": round(elapsed, 2),
            "events_per_s": round(len(lines) / elapsed),
            "latency_p50_us": round(lat[len(lat) // 2] * 1e6, 1),
            "latency_p99_us": round(lat[int(len(lat) * 0.99)] * 1e6, 1),
            "latency_mean_us": round(statistics.fmean(lat) * 1e6, 1),
            "decisions": s.decisions,
            "notifications": s.notifications,
            "dead_lettered": s.dead_lettered,
            "rss_start_mb": round(rss_start, 1),
            f"rss_after_{args.checkpoint // 1000}k_mb": round(rss_checkpoint or 0, 1),
            "rss_end_mb": round(rss_end, 1),
            "peak_rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
            "rss_growth_pct": round(
                100 * (rss_end - (rss_checkpoint or rss_end)) / (rss_checkpoint or rss_end), 1
            ),
        }
        if sys.platform.startswith("linux"):
            import resource

            figures["peak_rss_mb"] = round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
            )
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for k, v in figures.items():
            print(f"{k:>22}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
