"""Security headers, the widget's cross-origin rules, and signed-cookie sessions."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from web.errors import wants_json
from web.state import state

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer made once per key.

    Flask builds a new serializer on every request, cookie or not: about a tenth of
    the time of a small API answer.

    The cookie is Secure as configured; unset, it is Secure in production and on any request
    that came over HTTPS. A development run over plain HTTP on a host name other than
    localhost (a VM, ``flask run --host 0.0.0.0``) then still signs in: a browser drops a
    Secure cookie that arrives over plain HTTP, and every form would say it had expired.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = app.config["SESSION_COOKIE_SECURE"]
        if configured is not None:
            return bool(configured)
        return bool(app.config["PRODUCTION"]) or request.is_secure

    _made_for: tuple | None = None
    _serializer = None

    def get_signing_serializer(self, app: Flask):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._made_for != key:
            self._serializer, self._made_for = super().get_signing_serializer(app), key
        return self._serializer


def add_security_headers(response):
    """Send a strict Content-Security-Policy and friends with every response."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


CORS_MAX_AGE_SECONDS = 600


DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origins(value) -> frozenset[str]:
    """Normalise the allowed origins: a list, or one string split at commas or spaces.

    A typo must not silently open or close the widget, so anything that is not an
    http(s) origin without a path is an error at start-up.
    """
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or ())
    origins = set()
    for item in items:
        text = str(item).strip().removesuffix("/")
        if text == "*":
            origins.add(text)
            continue
        parts = urlsplit(text)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in DEFAULT_PORTS
            or not parts.hostname
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username
            or parts.password
            or port == -1
        ):
            raise ValueError(f"WIDGET_ALLOWED_ORIGINS: {item!r} is not an origin such as https://www.example.com")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        origins.add(f"{parts.scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[parts.scheme] else ""))
    return frozenset(origins)


def origin_allowed(origin: str) -> bool:
    """Say whether a browser Origin header names an allowed origin."""
    allowed = state().widget_origins
    return "*" in allowed or origin in allowed


def add_cors_headers(response):
    """Let allowed origins read /api/* responses, and answer their preflight requests."""
    if not wants_json():
        return response
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin and origin_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "GET, POST")
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_SECONDS)
    return response


def frame_policy(origins: frozenset[str]) -> str:
    """Return the app's CSP with frame-ancestors opened to the allowed origins."""
    ancestors = "*" if "*" in origins else " ".join(["'self'", *sorted(origins)])
    directives = [d.strip() for d in CONTENT_SECURITY_POLICY.split(";") if d.strip()]
    kept = [d for d in directives if not d.startswith("frame-ancestors")]
    return "; ".join([*kept, f"frame-ancestors {ancestors}"])
