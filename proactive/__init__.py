"""Proactive-service rules engine with an ethics check.

Events → customer context → rules → candidates → eight-dimension ethics check →
decision records → notifications. See README.md.
"""

from proactive.errors import (
    ConfigError,
    DataFileError,
    EventError,
    PolicyError,
    ProactiveError,
    RenderError,
    RevisionError,
    RuleFileError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataFileError",
    "EventError",
    "PolicyError",
    "ProactiveError",
    "RenderError",
    "RevisionError",
    "RuleFileError",
    "StoreError",
    "__version__",
]
