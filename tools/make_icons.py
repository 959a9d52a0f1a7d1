"""Draws the web app's home-screen icons (web/static/app/icons/*.png) from one SVG, with
Debian's chromium: run once when the mark changes, and commit the PNGs.

    .venv/bin/python -m tools.make_icons

A phone asks for PNGs (192 and 512 px) to put the app on its home screen; the maskable one
keeps the star inside the central 80 % that every launcher's mask leaves visible.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import async_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS

ICONS = Path(__file__).resolve().parents[1] / "web/static/app/icons"
STAR = "M16 5l3.2 7.8 8.4.6-6.4 5.4 2 8.2L16 22.6 8.8 27l2-8.2-6.4-5.4 8.4-.6z"


def svg(*, maskable: bool) -> str:
    # Maskable: a full-bleed background, the star scaled into the safe zone.
    background = (
        '<rect width="32" height="32" fill="#a50e0e"/>'
        if maskable
        else '<rect width="32" height="32" rx="6" fill="#a50e0e"/>'
    )
    star = (
        f'<path fill="#ffd600" transform="translate(16 16) scale(0.72) translate(-16 -16.2)" d="{STAR}"/>'
        if maskable
        else f'<path fill="#ffd600" d="{STAR}"/>'
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">{background}{star}</svg>'


async def main() -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, size, maskable in (
            ("icon-192.png", 192, False),
            ("icon-512.png", 512, False),
            ("maskable-512.png", 512, True),
        ):
            page = await browser.new_page(viewport={"width": size, "height": size})
            await page.set_content(
                "<style>html,body{margin:0;background:transparent}svg{display:block;"
                f"width:{size}px;height:{size}px}}</style>{svg(maskable=maskable)}"
            )
            await page.screenshot(path=str(ICONS / name), omit_background=True)
            await page.close()
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
