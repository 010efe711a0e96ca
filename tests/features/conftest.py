"""Gherkin scenarios of rules/ and ethics/, with the shipped step library."""

pytest_plugins = ["proactive.steps"]
