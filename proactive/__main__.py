"""``python -m proactive`` runs the command line."""

from proactive.cli import main

main()
