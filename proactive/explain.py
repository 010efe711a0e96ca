"""One decision in plain language: trigger, rule, scores with reasons, value, verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proactive.ethics.policy import DIMENSIONS

QUESTIONS = {
    "language": "Do I understand it?",
    "place": "Where do I have to go?",
    "time": "When?",
    "complexity": "How complicated is it?",
    "relevance": "Does this apply to my situation?",
    "trust": "Is it right? Is it safe?",
    "empathy": "Do I feel seen, heard, understood?",
    "autonomy": "Can I decide whether, how and when?",
}


def find_decision(out_dir: Path, decision_id: str) -> dict[str, Any] | None:
    """The decision record with this id (or a unique prefix of it) from ``decisions.jsonl``."""
    path = out_dir / "decisions.jsonl"
    if not path.exists():
        return None
    matches = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if decision_id in line:
                rec = json.loads(line)
                if rec["decision_id"] == decision_id:
                    return dict(rec)
                if rec["decision_id"].startswith(decision_id):
                    matches.append(rec)
    return dict(matches[0]) if len(matches) == 1 else None


def explain(rec: dict[str, Any]) -> str:
    """A compliance-readable explanation of one decision record."""
    lines: list[str] = []
    action = rec["action"]
    offer = action.get("offer")
    lines.append(f"Decision {rec['decision_id']}")
    lines.append(f"  Verdict: {rec['verdict'].upper()}")
    lines.append("")
    lines.append(
        f"Trigger: event {rec['event_id']} ({rec['event_type']}) at {rec['trigger_time']} for customer {rec['customer_id']}."
    )
    lines.append(
        f"Rule: {rec['rule_id']} (rules {rec['rules_revision']}, policy {rec['ethics_revision']}), variant {rec['variant']}."
    )
    what = f"a {action['purpose']} message by {rec['channel']} in {rec['language']}"
    if offer:
        what += f" offering {offer['name']} at EUR {offer['price_eur']:.2f}" + (
            " a month" if offer["recurring"] else ""
        )
    lines.append(f"Proposed: {what}. Channel: {rec.get('channel_reason', '')}.")
    if offer:
        lines.append(f"Why this offer: {offer['basis']}.")
    msg = rec.get("message")
    if msg and "body" in msg:
        lines.append("")
        lines.append("The message as the customer would see it:")
        for part in (
            msg.get("subject"),
            msg["body"],
            msg["reason"],
            msg["decline"],
            msg["human_route"],
        ):
            if part:
                lines.extend("  | " + ln for ln in part.splitlines())
    elif msg:
        lines.append(
            "The message text is masked by policy (sha256 " + msg.get("sha256", "?")[:12] + "…)."
        )
    if rec.get("scores"):
        lines.append("")
        lines.append(f"Service dimensions (weighted score {rec['overall']:.2f}):")
        for d in DIMENSIONS:
            s = rec["scores"][d]
            lines.append(f"  {d:<11} {s['score']:.2f}  {QUESTIONS[d]}")
            for r in s["reasons"]:
                lines.append(f"               - {r}")
    v = rec.get("value")
    if v:
        lines.append("")
        lines.append(
            f"Value check: customer {v['customer']:+.2f}, organisation {v['organisation']:+.2f}, alignment {v['alignment']:.2f}"
            + (f", flags: {', '.join(v['flags'])}" if v["flags"] else "")
        )
        for r in v["reasons"]:
            lines.append(f"  - {r}")
    if rec.get("limits"):
        lines.append("")
        lines.append("Limits that apply:")
        for h in rec["limits"]:
            lines.append(
                f"  - [{h['frame']}] {h['id']} → {h['effect']}: {h['detail']} (source: {h['source']})"
            )
    lines.append("")
    lines.append(f"Verdict: {rec['verdict'].upper()}, because:")
    for r in rec["reasons"]:
        lines.append(f"  - {r}")
    for w in rec.get("warnings") or []:
        lines.append(f"  ! {w}")
    if rec.get("deliver_at") and rec["verdict"] == "defer":
        lines.append(f"It will be checked again and sent at {rec['deliver_at']}.")
    return "\n".join(lines)
