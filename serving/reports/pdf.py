"""`python -m serving.reports.pdf`: HTML on stdin, PDF on stdout (WeasyPrint, system Pango).

Run as a child process by `serving.reports.render.render_pdf`, so the layout happens outside
the API's request path and the mail scheduler's thread. The HTML holds everything inline (CSS,
SVG charts); no URL is fetched.
"""

from __future__ import annotations

import logging
import sys


def _no_fetch(url: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
    raise ValueError(f"reports fetch nothing: {url[:80]}")


def main() -> None:
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    from weasyprint import HTML

    html = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(HTML(string=html, url_fetcher=_no_fetch).write_pdf())


if __name__ == "__main__":
    main()
