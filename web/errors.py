"""Errors as people see them: JSON with an ``error`` message on the API, a friendly page elsewhere."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from web.state import state

log = logging.getLogger(__name__)


class InputError(ValueError):
    """Input the user can fix; its message is shown to them."""


def wants_json() -> bool:
    return request.path.startswith("/api/")


def register_errors(app: Flask) -> None:
    """Answer errors as JSON on the API and as friendly pages elsewhere; never a traceback."""

    @app.errorhandler(InputError)
    def bad_request(error):
        if wants_json():
            return jsonify(error=str(error)), 400
        return render_template("pages/error.html", code=400, message=str(error)), 400

    friendly = {
        413: lambda e: f"the request is too large: at most {app.config['MAX_CONTENT_LENGTH'] // 1024} KB",
        429: lambda e: f"too many requests (limit {e.description}); please wait a moment and try again",
    }

    @app.errorhandler(HTTPException)
    def http_error(error):
        message = friendly[error.code](error) if error.code in friendly else error.description or error.name
        if wants_json():
            response = jsonify(error=message)
        else:
            response = app.make_response(render_template("pages/error.html", code=error.code, message=message))
        response.status_code = error.code
        for name, value in error.get_headers():
            if name in ("Allow", "Retry-After"):
                response.headers[name] = value
        return response

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    @app.errorhandler(sa.exc.TimeoutError)
    def database_unreachable(error):
        # Only what needs the database fails: search and answers do not touch it.
        log.error("the database is unreachable on %s: %s", request.path, str(error).splitlines()[0])
        state().background.note_database(error)
        message = (
            "The database is unreachable for now, so sign-in, the agent tools and the inbox are unavailable. "
            "Search and answers still work. Try again in a minute."
        )
        if wants_json():
            response = jsonify(error=message)
        else:
            response = app.make_response(render_template("pages/error.html", code=503, message=message))
        response.status_code = 503
        response.headers["Retry-After"] = "30"
        return response

    @app.errorhandler(Exception)
    def unexpected(error):
        log.exception("unhandled error on %s", request.path)
        if wants_json():
            return jsonify(error="internal error; it has been logged"), 500
        return render_template("pages/error.html", code=500, message="Something went wrong on our side."), 500
