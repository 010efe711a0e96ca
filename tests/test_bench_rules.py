"""The rule-scale benchmark's generator (``benchmarks/rules_scale.py``) makes rules that load and fire.

Timings are the benchmark's business (``make bench-rules``); this keeps its generator
honest: a generated rule that lint refuses, or that could never fire, is a bug in the
generator, not a finding about the engine.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from proactive.authoring import lint

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """``benchmarks/rules_scale.py`` as a module (the benchmarks are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(
        "rules_scale", REPO / "benchmarks" / "rules_scale.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rules_dir(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rule directory of 50 rules: the shipped ones plus generated files."""
    target: Path = bench.write_rules_dir(tmp_path_factory.mktemp("scale") / "rules", 50)
    return target


def test_every_generated_rule_lints_clean(bench: ModuleType, rules_dir: Path) -> None:
    """Not one error or warning, and the generated rules vary like a product team's."""
    ruleset, problems = lint(rules_dir)
    assert [str(p) for p in problems] == []
    assert ruleset is not None and len(ruleset.rules) == 50
    generated = [cr for cr in ruleset.rules if Path(cr.file).name.startswith("gen_")]
    assert len(generated) == 50 - bench.shipped_rules()
    assert len({cr.file for cr in generated}) >= 5
    assert len({t for cr in generated for t in cr.rule.on}) >= 10
    assert {cr.rule.purpose for cr in generated} == {"service", "advice", "commercial"}
    assert {cr.table.hit for cr in generated if cr.table is not None} == {
        "unique",
        "first",
        "collect",
    }
    assert len({cr.rule.template for cr in generated}) >= 8


def test_the_engine_fires_some_generated_rules(bench: ModuleType, rules_dir: Path) -> None:
    """On a generated stream some generated rules fire (not all: most target rare cases)."""
    figures = bench.measure_stream(rules_dir, events=4000, customers=300, seed=11, batch=500)
    assert figures["events"] == 4000
    assert 1 <= figures["generated_rules_fired"] < 50 - bench.shipped_rules()
    assert figures["candidates"] > figures["generated_candidates"]  # the shipped rules fire too
