"""Runtime settings, read once from the environment and passed down explicitly."""

from config.settings import Environment, Introspection, Settings, normalize_database_url

__all__ = ["Environment", "Introspection", "Settings", "normalize_database_url"]
