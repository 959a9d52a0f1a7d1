"""Settings from the environment: blanks mean defaults, unsafe values are refused."""

from __future__ import annotations

import pytest

from config import Environment, Settings
from graph.app import create_app


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


def test_production_refuses_settings_that_reopen_the_limits() -> None:
    settings = Settings.from_env(
        {
            "CONGRESS_ENV": "production",
            "CONGRESS_MAX_TOKEN_LIFETIME_SECONDS": str(30 * 24 * 3600),
            "CONGRESS_MAX_BODY_BYTES": "100000000",
        }
    )
    assert settings.unsafe_in_production() == [
        "CONGRESS_MAX_TOKEN_LIFETIME_SECONDS=2,592,000 is over the 604,800 production allows",
        "CONGRESS_MAX_BODY_BYTES=100,000,000 is over the 10,000,000 production allows",
    ]
    with pytest.raises(RuntimeError, match="Refusing to serve in production: CONGRESS_MAX_TOKEN"):
        create_app(settings)


def test_the_local_issuer_beside_an_identity_provider_is_refused_in_production() -> None:
    settings = Settings.from_env(
        {
            "CONGRESS_ENV": "production",
            "CONGRESS_LOCAL_ISSUER": "1",
            "CONGRESS_OIDC_ISSUER": "https://id.example.gov.vn",
            "CONGRESS_OIDC_AUDIENCE": "congress",
        }
    )
    assert settings.unsafe_in_production()[0].startswith("CONGRESS_LOCAL_ISSUER=1 beside")
    # The same settings in development are the developer's business.
    assert settings.with_(environment=Environment.DEVELOPMENT).unsafe_in_production() == []


def test_production_defaults_are_safe() -> None:
    assert Settings.from_env({"CONGRESS_ENV": "production"}).unsafe_in_production() == []
