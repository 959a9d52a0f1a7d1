"""The `congress` command."""
