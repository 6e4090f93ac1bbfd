"""The embeddable help widget: its loader script, the panel page inside its iframe, and a demo host page.

widget.js (static, embedded by host pages with one script tag) creates an iframe on the frame
page below; the panel inside talks to /api/* on its own origin. Host pages that call the API
directly need CORS, answered for WIDGET_ALLOWED_ORIGINS only (see web.security).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from web.security import frame_policy
from web.state import knowledge, state

widget = Blueprint("widget", __name__)


DEMO_OPTIONS = ("position", "accent", "greeting", "lang", "tabs")


@widget.get("/widget.js")
def script():
    """Serve the loader that a host page embeds with one script tag."""
    return current_app.send_static_file("widget.js")


@widget.get("/widget/")
def frame():
    """Serve the panel: the page inside the iframe that widget.js creates."""
    settings = knowledge().base.settings
    timeout_ms = round(current_app.config["WIDGET_TIMEOUT_SECONDS"] * 1000)
    html = render_template("widget/frame.html", support=settings.support, timeout_ms=timeout_ms)
    response = current_app.make_response(html)
    response.headers["Content-Security-Policy"] = frame_policy(state().widget_origins)
    return response


@widget.get("/widget/demo")
def demo():
    """Show a sample host page that embeds the widget; ``?lang=de`` and the like try its options."""
    options = {name: request.args.get(name, "")[:200] for name in DEMO_OPTIONS}
    return render_template("widget/demo.html", options={k: v for k, v in options.items() if v})
