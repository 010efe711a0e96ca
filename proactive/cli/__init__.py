"""The ``proactive`` command line: one module per command group.

``main`` is the click group; importing the submodules registers their commands on it.
"""

from proactive.cli import audit as audit
from proactive.cli import backtest as backtest
from proactive.cli import customer as customer
from proactive.cli import ethics as ethics
from proactive.cli import purge as purge
from proactive.cli import report as report
from proactive.cli import review as review
from proactive.cli import rules as rules
from proactive.cli import rules_diff as rules_diff
from proactive.cli import test_cmd as test_cmd
from proactive.cli import users as users
from proactive.cli import web as web
from proactive.cli.main import main

__all__ = ["main"]
