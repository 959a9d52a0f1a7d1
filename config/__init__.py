"""Runtime settings, read once from the environment and passed down explicitly."""

from config.settings import Environment, Settings, normalize_database_url

__all__ = ["Environment", "Settings", "normalize_database_url"]
