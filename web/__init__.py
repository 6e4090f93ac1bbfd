"""The Flask layer: the application factory, and one module per concern it wires together.

``create_app()`` is the only way to get an app. It reads the configuration (web.config), loads
what answers are computed from (web.knowledge) into the app's one state object (web.state),
connects the database (web.extensions, web.models), and registers sign-in (web.auth), event
recording (web.events), rate limits, security headers, the views (web.views) and the commands
(web.cli). The web layer parses input, calls the domain packages and renders their results;
it owns no search, scoring or text formatting of its own.
"""

from __future__ import annotations

import os
import time

from flask import Flask

from web.auth import init_auth, make_password_hasher
from web.cli import init_cli
from web.config import ROOT, init_secret_key, load_config
from web.errors import register_errors
from web.events import init_events, make_event_log
from web.extensions import init_database
from web.inputs import BoundedJSON
from web.knowledge import knowledge_stamp, load_knowledge, make_calibration, refresh_knowledge
from web.observability import init_observability
from web.proxies import init_proxies
from web.ratelimit import init_rate_limits
from web.security import CookieSessions, add_cors_headers, add_security_headers, parse_origins
from web.state import STATE_KEY, AppState, knowledge
from web.views import register_views
from web.views.api import load_openapi


def support_link(app: Flask):
    """Return where pages send people who want a person (``support.url`` and ``.label`` of the settings file)."""
    return knowledge(app).base.settings.support


def create_app(config: dict | None = None) -> Flask:
    """Build the application; ``config`` (tests) replaces the instance file and environment."""
    # Tests give their own instance folder, so no state of a developer's is read or written.
    instance_path = (config or {}).get("INSTANCE_PATH")
    # templates/ and static/ live at the repository's top, where the product owner fixed them.
    app = Flask("app", root_path=str(ROOT), instance_relative_config=True, instance_path=instance_path)
    app.json = BoundedJSON(app)
    load_config(app, config)
    os.makedirs(app.instance_path, exist_ok=True)
    init_secret_key(app)
    app.session_interface = CookieSessions()
    # JSON answers keep the order they are built in (question fields first); sorting the keys
    # of every answer was a tenth of the time spent turning it into JSON.
    app.json.sort_keys = False

    init_proxies(app)
    init_observability(app)
    calibration = make_calibration(app.config)
    loaded = load_knowledge(app, calibration)
    init_database(app)
    app.extensions[STATE_KEY] = AppState(
        knowledge=loaded,
        events=make_event_log(app),
        passwords=make_password_hasher(app.config),
        widget_origins=parse_origins(app.config["WIDGET_ALLOWED_ORIGINS"]),
        openapi=load_openapi(loaded.training.names),
        calibration=calibration,
        knowledge_checked=time.monotonic(),
        knowledge_stamp=knowledge_stamp(app.config),
    )
    init_auth(app)
    init_events(app)
    init_rate_limits(app)
    app.before_request(refresh_knowledge)
    register_views(app)
    register_errors(app)
    app.after_request(add_cors_headers)
    app.after_request(add_security_headers)
    app.context_processor(lambda: {"provider": knowledge(app).base.settings.provider, "support": support_link(app)})
    init_cli(app)
    return app
