"""The ethics check: eight service dimensions, value alignment and hard limits."""

from proactive.ethics.check import Assessment, EthicsCheck, Verdict
from proactive.ethics.policy import DIMENSIONS, LoadedPolicy, Policy, load_policy

__all__ = [
    "DIMENSIONS",
    "Assessment",
    "EthicsCheck",
    "LoadedPolicy",
    "Policy",
    "Verdict",
    "load_policy",
]
