"""The server-rendered pages (sign-in, refusals): small HTML in the app's look, with every
value escaped, in Vietnamese with English beneath, and the headers every page carries."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

# The app's pages are the server's own scripts and styles: nothing inline, nothing from
# another origin, never framed (a framed page could be clicked into a write).
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "; ".join(
        (
            "default-src 'self'",
            "frame-ancestors 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
        )
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    # Never kept: a page may hold a form's one-time token, and a new release's page must
    # not sit beside old assets.
    "Cache-Control": "no-store",
}


def bilingual(vietnamese: str, english: str) -> str:
    """Both languages of one message, escaped: Vietnamese first, English beneath."""
    return f'{escape(vietnamese)}<span class="en" lang="en">{escape(english)}</span>'


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    """A whole page around `body` (already HTML: build it with `escape` or `bilingual`)."""
    html = f"""<!doctype html>
<html lang="vi">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>{escape(title)}</title>
    <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
    <link rel="stylesheet" href="/pages.css" />
  </head>
  <body>
    <main class="page">
{body}
    </main>
  </body>
</html>
"""
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def message_page(
    status_code: int, heading: tuple[str, str], text: tuple[str, str], *, retry_to: str
) -> HTMLResponse:
    """A refusal a person understands: what happened, and a link to start again."""
    body = f"""      <h1>{bilingual(*heading)}</h1>
      <p>{bilingual(*text)}</p>
      <p><a class="button" href="{escape(retry_to)}">{bilingual("Đăng nhập lại", "Sign in again")}</a></p>"""
    return page(heading[0], body, status_code)
