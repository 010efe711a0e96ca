"""What a message promises, checked against the catalogue and the customer's own numbers.

A message may only state terms the organisation can honour (DOMAIN S5): every amount
in an offer message must be the offer's catalogue price or a figure from the
customer's own situation (their bill, their plan, what the offer saves them), and
every product it names must exist in the catalogue. The templates take prices from
the catalogue; this check catches the text that does not.
"""

from __future__ import annotations

import re
from functools import lru_cache

from proactive.candidates import Candidate
from proactive.offers import Bundle, Catalogue, current_bundle
from proactive.rules import RuleSet

AMOUNT = re.compile(r"€\s?(\d+(?:[.,]\d{2})?)|(\d+(?:[.,]\d{2})?)\s?(?:euro|EUR)", re.IGNORECASE)
"""A euro amount as the templates write it: "€ 9,99", "€9.99", "16,50 euro"."""


def amounts(text: str) -> list[float]:
    """The euro amounts stated in ``text``, in order."""
    out = []
    for m in AMOUNT.finditer(text.replace("\xa0", " ")):
        raw = m.group(1) or m.group(2)
        out.append(float(raw.replace(",", ".")))
    return out


def backed_amounts(c: Candidate, ruleset: RuleSet) -> set[float]:
    """Amounts this message may state: the offer's figures and the customer's own numbers."""
    known: set[float] = set()
    cat = ruleset.catalogue
    if c.offer is not None:
        known |= {
            c.offer.price_eur,
            c.offer.customer_cost_with,
            c.offer.customer_cost_without,
            abs(c.offer.customer_value),
        }
        item = cat.item(c.offer.offer_id)
        if item is not None:
            known.add(item.monthly_eur if isinstance(item, Bundle) else item.price_eur)
        current = current_bundle(cat, c.ctx)
        if current is not None:
            # "from € 13,50 to € 16,50 a month": the customer's own plan, and the step
            known |= {current.monthly_eur, abs(c.offer.price_eur - current.monthly_eur)}
    for v in dict(c.event.data).values():
        if isinstance(v, float | int) and not isinstance(v, bool):
            known.add(float(v))
    if c.ctx.contract_fee_eur is not None:
        known.add(c.ctx.contract_fee_eur)
    known.add(cat.out_of_bundle.price_per_gb_eur)
    known |= {z.price_per_mb_eur for z in cat.roaming.values()}
    return {round(a, 2) for a in known}


def unbacked_amounts(c: Candidate, ruleset: RuleSet, stated: list[float]) -> list[float]:
    """The ``stated`` amounts (see :func:`amounts`) that nothing in the catalogue or the
    customer's situation backs."""
    known = backed_amounts(c, ruleset)
    return [a for a in stated if round(a, 2) not in known]


@lru_cache(maxsize=16)
def _product_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # a run of capitalised words or sizes ("Unlimited 5G Max", "Onbeperkt Plus 40 GB")
    # that contains at least one of the product words
    part = r"(?:[A-Z0-9][\w+]*(?: ?GB)?)"
    word = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{part} ){{0,3}}(?:{word})\b(?: {part}){{0,3}}")


def unknown_products(text: str, catalogue: Catalogue, product_words: tuple[str, ...]) -> list[str]:
    """Product names in ``text`` that the catalogue does not have.

    A name is a run of capitalised words around a product word ("Unlimited",
    "Onbeperkt", "Max" …, from the policy); it is known when it is a catalogue name
    or made only of words of catalogue names.
    """
    if not product_words:
        return []
    names = [b.name for b in catalogue.bundles] + [a.name for a in catalogue.addons]
    known_names = {n.lower() for n in names}
    known_words = {w.lower() for n in names for w in n.split()}
    out = []
    for m in _product_pattern(product_words).finditer(text):
        phrase = m.group().strip()
        lower = phrase.lower()
        if lower in known_names or any(n in known_names for n in _sub_names(lower)):
            continue
        if all(w in known_words or w.isdigit() for w in lower.split()):
            continue
        out.append(phrase)
    return out


def _sub_names(phrase: str) -> list[str]:
    # "Kies Unlimited" → "unlimited": a known name preceded by an ordinary capitalised word
    words = phrase.split()
    return [" ".join(words[i:]) for i in range(1, len(words))]
