"""Settings from the environment: blanks mean defaults, unsafe values are refused."""

from __future__ import annotations

import pytest

from config import Settings


def test_blank_variables_mean_the_defaults() -> None:
    blank = {name: "" for name in ("CONGRESS_MAX_QUERY_DEPTH", "CONGRESS_MAX_PAGE_SIZE",
                                   "CONGRESS_MAX_QUERY_NODES", "CONGRESS_TOKEN_TTL")}  # fmt: skip
    assert Settings.from_env(blank) == Settings.from_env({})


def test_an_assurance_level_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        Settings.from_env({"CONGRESS_MIN_ASSURANCE_LEVEL": "1"})


def test_settings_survive_the_trip_through_worker_environments() -> None:
    settings = Settings.from_env({"CONGRESS_MAX_PAGE_SIZE": "50", "CONGRESS_ENV": "production"})
    # Workers get absolute paths and the database URL spelled out.
    expected = settings.with_(
        data_dir=settings.data_dir.resolve(), database_url=settings.resolved_database_url
    )
    assert Settings.from_env(settings.to_env()) == expected
