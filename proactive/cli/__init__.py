"""The ``proactive`` command line: one module per command group.

``main`` is the click group; importing the submodules registers their commands on it.
"""

from proactive.cli import backtest as backtest
from proactive.cli import ethics as ethics
from proactive.cli import report as report
from proactive.cli import review as review
from proactive.cli import rules as rules
from proactive.cli import rules_diff as rules_diff
from proactive.cli import test_cmd as test_cmd
from proactive.cli.main import main

__all__ = ["main"]
