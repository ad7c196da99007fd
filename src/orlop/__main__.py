"""`python -m orlop` runs the CLI."""

from orlop.cli.main import run

run()
