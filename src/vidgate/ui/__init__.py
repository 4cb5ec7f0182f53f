"""The console: ``/ui``, served by the gateway itself, every asset inside this package.

**The stack, and why.** Each page is a server-rendered Jinja2 shell (layout, navigation, the
page's static parts, the session's CSRF token) plus one small ES module that calls the gateway's
own JSON API and draws the page with DOM calls. There is no build step, no Node.js at install
time, no CDN and no vendored framework: charts are SVG drawn by ~60 lines of our own
(``static/js/chart.js``), and live updates are the API's server-sent events
(``GET /v1/videos/events``). We chose this over htmx + fragments because the console then reads
exactly what an API client reads: a virtual key sees only what the API shows that key (the
isolation rules are enforced once, server-side, on the API routes), every page is a working
example of the API, and a page needs no second set of server routes to keep in step with it.

**Security.** The key is typed once into the sign-in form and never kept by the browser: the
gateway answers with a session cookie (``HttpOnly``, ``SameSite=Strict``, ``Secure`` over
HTTPS) holding a random token (``accounting/sessions.py``). The API accepts that cookie when no
key is sent, and a state-changing call made with it must carry the session's CSRF token in
``x-csrf-token`` (the pages read it from a ``<meta>`` tag); the sign-out form carries it as a
field. Pages are sent with a Content-Security-Policy that allows scripts only from ``/ui/static``
(no inline script, no ``eval``), and everything a user or upstream wrote (prompts, metadata,
error messages) reaches the page through ``textContent``, never as HTML.
"""

from __future__ import annotations

from fastapi import FastAPI

from vidgate.ui import pages, signin
from vidgate.ui.render import StaticAssets


def install(app: FastAPI) -> None:
    app.include_router(signin.router)
    app.include_router(pages.router)
    app.mount("/ui/static", StaticAssets(), name="ui-static")
