"""Check free text the way the engine checks a rendered message: manipulation and readability.

Used by ``proactive ethics check`` for one text or a JSONL file of texts. Every input
line gives exactly one result; a line that cannot be checked (not JSON, no text,
empty, not a string, unknown language) gives a result with ``error`` set and
``flagged`` false, never an exception.

Example::

    >>> from pathlib import Path
    >>> from proactive.ethics.policy import load_policy
    >>> lp = load_policy(Path("ethics/policy.yaml"))
    >>> r = check_text("Nog maar 2 beschikbaar!", "nl", lp)
    >>> r["flagged"], r["categories"]
    (True, ['scarcity'])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from proactive.ethics.manipulation import CATEGORIES, LANGUAGES
from proactive.ethics.policy import LoadedPolicy
from proactive.ethics.text import readability

MAX_CHARS = 200_000
"""Longer texts are refused per line: no notification is that long, and it bounds the work."""


def check_text(
    text: object, lang: object, lp: LoadedPolicy, text_id: object = None
) -> dict[str, Any]:
    """Scan one text; the result has ``id``, ``flagged``, ``categories``, ``findings``,
    ``readability`` and ``error``."""
    result: dict[str, Any] = {
        "id": text_id,
        "flagged": False,
        "categories": [],
        "findings": [],
        "readability": None,
        "error": None,
    }
    problem = _problem(text, lang)
    if problem:
        result["error"] = problem
        return result
    assert isinstance(text, str) and isinstance(lang, str)
    code = lang.strip().lower()[:2]
    findings = lp.manipulation.scan(text, code)
    r = readability(text, code)
    target = lp.policy.language.readability_min[code]  # type: ignore[index]
    jargon = lp.policy.language.jargon_in(text, code)
    result.update(
        flagged=bool(findings),
        categories=[c for c in CATEGORIES if any(f.category == c for f in findings)],
        findings=[
            {
                "category": f.category,
                "phrase": f.phrase,
                "span": [f.start, f.end],
                "effect": f.effect,
            }
            for f in findings
        ],
        readability={
            "score": round(r.score, 1),
            "formula": r.formula,
            "target": target,
            "meets_target": r.score >= target,
            "sentences": r.sentences,
            "words": r.words,
            "avg_sentence_words": round(r.avg_sentence_words, 1),
            "long_sentence": r.avg_sentence_words > lp.policy.language.max_sentence_words,
            "jargon": jargon,
        },
    )
    return result


def _problem(text: object, lang: object) -> str | None:
    if text is None:
        return "no text: the line has no 'text' field"
    if not isinstance(text, str):
        return f"text must be a string, not {type(text).__name__}"
    if not text.strip():
        return "empty text"
    if len(text) > MAX_CHARS:
        return f"text of {len(text)} characters is longer than {MAX_CHARS}"
    if not isinstance(lang, str) or lang.strip().lower()[:2] not in LANGUAGES or len(lang) > 10:
        return f"language {lang!r} is not supported; use 'nl' or 'en'"
    return None


def check_lines(lines: Iterable[bytes | str], lp: LoadedPolicy) -> Iterator[dict[str, Any]]:
    """One result per non-blank input line of a JSONL file (``{"id", "text", "lang"}``)."""
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield {**check_text(None, None, lp, None), "line": n, "error": f"not JSON: {exc}"}
            continue
        if not isinstance(row, dict):
            yield {
                **check_text(None, None, lp, None),
                "line": n,
                "error": f"expected a JSON object, got {type(row).__name__}",
            }
            continue
        text_id = row.get("id", n)
        yield {**check_text(row.get("text"), row.get("lang"), lp, text_id), "line": n}
