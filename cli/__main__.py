"""`python -m cli` is the `congress` command."""

from cli.main import main

main()
