"""Binds every feature file under rules/features (product teams) and ethics/features
(compliance) to pytest."""

from pathlib import Path

from pytest_bdd import scenarios

ROOT = Path(__file__).resolve().parents[2]

scenarios(str(ROOT / "rules" / "features"))
scenarios(str(ROOT / "ethics" / "features"))
