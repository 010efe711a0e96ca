"""Measure the manipulation detector on the project's labelled corpus.

Prints precision, recall and false-positive rate per category and language, and
the false-positive rate on benign texts (labelled ``[]``), for the main corpus
(``nl.jsonl``, ``en.jsonl``) or a held-out set (``holdout_*.jsonl``, or the second,
independently written ``holdout2_*.jsonl``), which is never used to change the
patterns.

    python tests/ethics_corpus/evaluate.py              # main corpus
    python tests/ethics_corpus/evaluate.py --holdout    # held-out texts
    python tests/ethics_corpus/evaluate.py --holdout2   # second held-out set
    python tests/ethics_corpus/evaluate.py --misses     # list every miss and false alarm
    python tests/ethics_corpus/evaluate.py --json

Targets (issue: ethics check): recall >= 0.90 for every category with >= 20
examples in a language; false-positive rate <= 0.03 on benign texts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proactive.ethics.manipulation import CATEGORIES, LANGUAGES, Detector
from proactive.ethics.policy import load_policy

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MIN_SUPPORT = 20
RECALL_TARGET = 0.90
BENIGN_FPR_TARGET = 0.03
TITLES = {"main": "main", "holdout": "held-out", "holdout2": "second held-out"}


@dataclass
class Counts:
    """Confusion counts of one category in one language."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / self.support if self.support else None

    @property
    def fpr(self) -> float | None:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else None


@dataclass
class Result:
    """Everything the evaluation measured."""

    counts: dict[tuple[str, str], Counts] = field(default_factory=dict)
    benign: dict[str, Counts] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)
    texts: dict[str, int] = field(default_factory=dict)

    def failures(self) -> list[str]:
        """Every target that is not met."""
        out = []
        for (lang, cat), c in sorted(self.counts.items()):
            if c.support >= MIN_SUPPORT and (c.recall or 0) < RECALL_TARGET:
                out.append(f"{lang} {cat}: recall {c.recall:.2f} < {RECALL_TARGET}")
        for lang, c in sorted(self.benign.items()):
            if (c.fpr or 0) > BENIGN_FPR_TARGET:
                out.append(f"{lang} benign: false-positive rate {c.fpr:.3f} > {BENIGN_FPR_TARGET}")
        return out


def load(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The labelled lines of the given JSONL files."""
    rows = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                unknown = set(row["labels"]) - set(CATEGORIES)
                if unknown:
                    raise SystemExit(f"{path}:{n}: unknown label(s) {sorted(unknown)}")
                rows.append(row)
    return rows


def evaluate(rows: list[dict[str, Any]], detector: Detector) -> Result:
    """Scan every text and count hits, misses and false alarms."""
    r = Result()
    for lang in LANGUAGES:
        r.benign[lang] = Counts()
        for cat in CATEGORIES:
            r.counts[(lang, cat)] = Counts()
    for row in rows:
        lang, labels = row["lang"], set(row["labels"])
        r.texts[lang] = r.texts.get(lang, 0) + 1
        findings = detector.scan(row["text"], lang)
        found = {f.category for f in findings}
        for cat in CATEGORIES:
            c = r.counts[(lang, cat)]
            if cat in labels:
                c.tp += cat in found
                c.fn += cat not in found
            else:
                c.fp += cat in found
                c.tn += cat not in found
        if not labels:
            b = r.benign[lang]
            b.fp += bool(found)
            b.tn += not found
        if found != labels:
            r.misses.append(
                {
                    "id": row["id"],
                    "missed": sorted(labels - found),
                    "false": sorted(found - labels),
                    "text": row["text"],
                    "findings": [f"{f.category}: {f.phrase!r}" for f in findings],
                }
            )
    return r


def _fmt(value: float | None) -> str:
    return "   -" if value is None else f"{value:.2f}"


def table(r: Result) -> str:
    """The result as a plain-text (Markdown) table."""
    lines = [
        "| language | category | examples | precision | recall | false-positive rate |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for lang in LANGUAGES:
        for cat in CATEGORIES:
            c = r.counts[(lang, cat)]
            lines.append(
                f"| {lang} | {cat} | {c.support} | {_fmt(c.precision)} | {_fmt(c.recall)} "
                f"| {_fmt(c.fpr)} |"
            )
        b = r.benign[lang]
        lines.append(f"| {lang} | *benign texts flagged* | {b.fp + b.tn} | | | {b.fpr or 0:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; exit 1 when a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sets = ap.add_mutually_exclusive_group()
    sets.add_argument("--holdout", action="store_true", help="evaluate the held-out texts")
    sets.add_argument("--holdout2", action="store_true", help="evaluate the second held-out set")
    ap.add_argument("--misses", action="store_true", help="list misses and false alarms")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--policy", type=Path, default=ROOT / "ethics" / "policy.yaml")
    args = ap.parse_args(argv)
    name = "holdout2" if args.holdout2 else "holdout" if args.holdout else "main"
    prefix = "" if name == "main" else f"{name}_"
    files = [HERE / f"{prefix}{lang}.jsonl" for lang in LANGUAGES]
    detector = load_policy(args.policy).manipulation
    r = evaluate(load(files), detector)
    if args.json:
        print(
            json.dumps(
                {
                    "set": name,
                    "texts": r.texts,
                    "categories": {
                        f"{lang}/{cat}": {
                            "examples": c.support,
                            "precision": c.precision,
                            "recall": c.recall,
                            "fpr": c.fpr,
                        }
                        for (lang, cat), c in r.counts.items()
                    },
                    "benign_fpr": {lang: c.fpr for lang, c in r.benign.items()},
                    "failures": r.failures(),
                },
                indent=2,
            )
        )
    else:
        print(f"{TITLES[name]} corpus: {r.texts} texts, patterns revision {detector.revision}\n")
        print(table(r))
        if args.misses:
            print()
            for m in r.misses:
                print(f"{m['id']}: missed {m['missed']} false {m['false']}\n    {m['text']}")
                for f in m["findings"]:
                    print(f"      found {f}")
        failures = r.failures()
        print("\ntargets met" if not failures else "\ntargets missed:\n  " + "\n  ".join(failures))
    return 1 if r.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
