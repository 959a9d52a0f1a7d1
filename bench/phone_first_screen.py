"""How long the web app's first screen takes on a phone over a slow link, and what it moves.

    .venv/bin/python -m bench.phone_first_screen [--runs 3]

`congress serve` over the tests' demo tree (SQLite), Debian's chromium as Playwright's
"Galaxy S5" (360 × 640, touch), the link held by the browser at 400 kbit/s each way with
400 ms of round trip (Chrome DevTools' network emulation). A commune's reporter, already
signed in, opens a link to the commune's dashboard:

- cold: nothing in the browser's cache and no service worker (a first visit);
- warm: the service worker installed by an earlier visit (every later visit).

It prints, for each, the seconds until the first screen is usable (the committee's name,
its summary and its congress shown) and the bytes that crossed the link by then.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.async_api import CDPSession, Page

from models import Role
from tests.browser import Chromium, chromium, person, served_demo, sign_in
from tests.conftest import demo_user

COMMUNE = "X00004"
REPORTER = demo_user(Role.REPORTER, COMMUNE)
DEVICE = "Galaxy S5"
# 400 kbit/s each way, 400 ms round trip.
SLOW_LINK = {
    "offline": False,
    "latency": 400,
    "downloadThroughput": 400_000 / 8,
    "uploadThroughput": 400_000 / 8,
}
BUDGET_SECONDS = 5.0


class Transfer:
    """Bytes received over the link, as the browser's network domain counts them."""

    def __init__(self, cdp: CDPSession) -> None:
        self.bytes = 0
        cdp.on("Network.dataReceived", self._data)

    def _data(self, event: dict[str, Any]) -> None:
        self.bytes += int(event.get("encodedDataLength", 0))


async def first_screen(page: Page, cdp: CDPSession) -> tuple[float, int]:
    """Seconds until the dashboard is usable, and the bytes received by then."""
    await page.goto("about:blank")
    await cdp.send("Network.emulateNetworkConditions", SLOW_LINK)
    transfer = Transfer(cdp)
    started = time.monotonic()
    await page.goto(f"/#/c/{COMMUNE}", wait_until="commit")
    await page.locator("main h1").wait_for(timeout=60_000)
    await page.locator("section.summary .stats").first.wait_for(timeout=60_000)
    await page.locator("section.congress .facts").first.wait_for(timeout=60_000)
    elapsed = time.monotonic() - started
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    return elapsed, transfer.bytes


async def measure(
    launched: Chromium, base_url: str, runs: int
) -> dict[str, list[tuple[float, int]]]:
    results: dict[str, list[tuple[float, int]]] = {"cold": [], "warm": []}
    device = launched.devices[DEVICE]
    for _ in range(runs):
        # Cold: a new profile, its cache emptied after signing in, service workers blocked.
        async with person(
            launched.browser, base_url, device=device, service_workers="block"
        ) as cold:
            await sign_in(cold, REPORTER, f"/#/c/{COMMUNE}")
            await cold.page.locator("main h1").wait_for()
            cdp = await cold.context.new_cdp_session(cold.page)
            await cdp.send("Network.enable")
            await cdp.send("Network.clearBrowserCache")
            results["cold"].append(await first_screen(cold.page, cdp))
        # Warm: the service worker from the visit before holds the page and its assets.
        async with person(launched.browser, base_url, device=device) as warm:
            await sign_in(warm, REPORTER, f"/#/c/{COMMUNE}")
            await warm.page.locator("main h1").wait_for()
            await warm.page.evaluate("navigator.serviceWorker.ready.then(() => true)")
            cdp = await warm.context.new_cdp_session(warm.page)
            await cdp.send("Network.enable")
            results["warm"].append(await first_screen(warm.page, cdp))
    return results


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        async with served_demo(Path(directory), ()) as app, chromium() as launched:
            results = await measure(launched, app.server.base_url, runs)
    print(f"first screen on a {DEVICE}, 400 kbit/s, 400 ms round trip ({runs} runs each)")
    for visit, samples in results.items():
        seconds = [elapsed for elapsed, _ in samples]
        received = [size for _, size in samples]
        print(
            f"  {visit}: median {statistics.median(seconds):.2f} s "
            f"(max {max(seconds):.2f} s, budget {BUDGET_SECONDS:.0f} s), "
            f"{statistics.median(received) / 1024:.1f} KiB received"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
