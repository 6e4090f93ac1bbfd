"""One module per surface of the app, each with its blueprint; views never import each other.

A view parses and validates its input, calls one function of the wiring (web.answering) or of a
domain package, and turns the result into HTML or JSON.
"""

from __future__ import annotations

from flask import Flask

from web.views import admin, agent, api, mailclient, ops, pages, widget

BLUEPRINTS = (
    pages.pages,
    pages.analytics,
    api.api,
    ops.ops,
    mailclient.mail_clients,
    agent.agent,
    widget.widget,
    admin.admin,
)


def register_views(app: Flask) -> None:
    """Register every blueprint on the app."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
