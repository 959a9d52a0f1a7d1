"""A long replay of every README query and the failures clients make, against a real
server process (bench/soak.py, shortened): every request answered with JSON, no 5xx, the
worker alive at the end. Issue 20 found a worker answering a plain-text 500 and then dying
of a segmentation fault about 1,150 requests into such a replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.progress_server import start_server, stop_server, wait_until_ready
from bench.soak import WITHOUT_RATE_LIMITS, replay, tokens_for
from config import Settings
from tests.databases import copied_database

# Past the point where the worker used to die, and short enough for the suite.
REQUESTS = 1_500
CONCURRENCY = 8


async def test_a_long_replay_is_answered_and_the_worker_lives(
    backend: str, demo_template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in WITHOUT_RATE_LIMITS.items():
        monkeypatch.setenv(name, value)
    async with copied_database(backend, demo_template, tmp_path) as url:
        settings = Settings(data_dir=tmp_path, database_url=url)
        tokens = tokens_for(settings)
        server = start_server(url, tmp_path)
        try:
            await wait_until_ready(server)
            report = await replay(server, tokens, REQUESTS, CONCURRENCY)
            alive = server.process.poll() is None
        finally:
            stop_server(server)
    assert report.requests == REQUESTS
    # Memory is the long bench's to judge (20,000 requests): a short run still warms up.
    misses = [miss for miss in report.misses(alive) if not miss.startswith("memory grew")]
    assert misses == []
    assert set(report.by_status) <= {200, 400}, report.by_status
