"""Logs mask what the policy *in force* says (``masking.log_fields``).

The engine puts its policy's list in force when it starts (so ``open_engine``, the
embedded run and the Kafka service all do) and at every swap of a new policy revision
(hot reload). Shown with a field only a compliance-edited policy masks: an IBAN.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_review import POLICY, RULES, check, rules

from proactive import logs
from proactive.app import open_engine
from proactive.config import Settings
from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import Masking, load_policy
from proactive.pipeline import Engine, Outputs
from proactive.reload import Reloader
from proactive.sinks import MemorySink
from proactive.store import ContextStore

IBAN = "NL91ABNA0417164300"
SHIPPED_FIELDS = "log_fields: [customer_id, name]"


def policy_masking(target: Path, fields: str) -> Path:
    """A copy of the shipped policy (and its manipulation patterns) in ``target`` whose
    ``masking.log_fields`` is ``fields``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("policy.yaml", "manipulation.yaml"):
        shutil.copy(POLICY.parent / name, target / name)
    path = target / "policy.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(SHIPPED_FIELDS) == 1
    path.write_text(text.replace(SHIPPED_FIELDS, f"log_fields: {fields}"), encoding="utf-8")
    return path


@pytest.fixture
def iban_policy(tmp_path: Path) -> Path:
    """The shipped fields and the IBAN."""
    return policy_masking(tmp_path / "iban", "[customer_id, name, iban]")


@pytest.fixture
def masked_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog with the masking filter ``configure`` installs; the default fields after."""
    logs.install(caplog.handler)
    caplog.set_level(logging.INFO, logger="proactive")
    logs.apply_policy(Masking(log_fields=list(logs.DEFAULT_FIELDS)))
    yield caplog
    logs.apply_policy(Masking(log_fields=list(logs.DEFAULT_FIELDS)))


def log_payment(caplog: pytest.LogCaptureFixture) -> str:
    """One log line that carries an IBAN as data; the text the handler wrote."""
    caplog.clear()
    logging.getLogger("proactive.test").warning("refund to iban=%s for customer=C1", IBAN)
    return caplog.text


def test_open_engine_masks_what_the_loaded_policy_masks(
    masked_log: pytest.LogCaptureFixture,
    iban_policy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROACTIVE_STORE_URL", raising=False)
    assert IBAN in log_payment(masked_log)  # the default fields do not cover it
    engine = open_engine(Settings(rules_dir=RULES, policy=iban_policy), tmp_path / "out")
    try:
        assert logs.masked_fields() == {"customer_id", "name", "iban"}
        text = log_payment(masked_log)
        assert "refund to iban=" in text and IBAN not in text and "C1" not in text
        assert logs.mask(IBAN, "iban") in text  # stable: an operator can still follow it
    finally:
        engine.outputs.close()
        engine.store.close()


def test_a_swapped_in_policy_revision_decides_the_masking_from_then_on(
    masked_log: pytest.LogCaptureFixture, iban_policy: Path, tmp_path: Path
) -> None:
    store = ContextStore("sqlite:///:memory:")
    engine = Engine(rules(), check(), store, Outputs(MemorySink(), MemorySink(), MemorySink()))
    assert IBAN in log_payment(masked_log)
    engine.swap(check=EthicsCheck(load_policy(iban_policy)))
    assert IBAN not in log_payment(masked_log)
    # a later revision that masks only the name: the customer id shows again
    only_name = policy_masking(tmp_path / "name", "[name]")
    engine.swap(check=EthicsCheck(load_policy(only_name)))
    text = log_payment(masked_log)
    assert IBAN in text and "customer=C1" in text
    # a swap of the rules alone leaves the policy's masking as it is
    engine.swap(ruleset=engine.ruleset)
    assert logs.masked_fields() == {"name"}
    store.close()


def test_a_hot_reload_of_the_policy_file_changes_the_masking(
    masked_log: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Compliance adds the IBAN to the watched policy: from the next batch on it is masked."""
    policy = policy_masking(tmp_path / "watched", "[customer_id, name]")
    reloader = Reloader(RULES, policy, interval=0, settle=False)
    ruleset, first = reloader.load()
    store = ContextStore("sqlite:///:memory:")
    engine = Engine(
        ruleset, first, store, Outputs(MemorySink(), MemorySink(), MemorySink()), reloader=reloader
    )
    assert IBAN in log_payment(masked_log)
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text.replace("[customer_id, name]", "[customer_id, name, iban]"))
    assert engine.reload()
    assert IBAN not in log_payment(masked_log)
    store.close()
