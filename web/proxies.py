"""Client addresses behind load balancers: X-Forwarded-* headers are believed only from the proxies configured.

Werkzeug's ProxyFix takes the client's address from X-Forwarded-For as the proxies in front
of the app wrote it. A client that reaches a node directly writes that header itself, and with
it any address it likes: every per-address limit (the API's, the sign-in slowdown) then counts
nothing. So the headers are read only when the connection comes from one of TRUSTED_PROXIES.
"""

from __future__ import annotations

import ipaddress

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from web.config import ConfigError


def parse_networks(value) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Read TRUSTED_PROXIES: addresses or networks, as a list or one string split at commas or spaces."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or ())
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"TRUSTED_PROXIES: {item!r} is not an address or network such as 10.0.0.5 or 10.0.0.0/24"
            ) from None
    return tuple(networks)


class TrustedProxyFix:
    """Apply ProxyFix to requests whose peer is a trusted proxy; leave every other request as it came."""

    def __init__(self, app, networks, count: int):
        self.app = app
        self.fixed = ProxyFix(app, x_for=count, x_proto=count, x_host=count)
        self.networks = networks

    def trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def __call__(self, environ, start_response):
        if self.trusted(environ.get("REMOTE_ADDR", "")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def init_proxies(app: Flask) -> None:
    """Read client addresses from X-Forwarded-For when PROXY_COUNT says proxies set it, and only from them."""
    count = app.config["PROXY_COUNT"]
    networks = parse_networks(app.config["TRUSTED_PROXIES"])
    if not count:
        return
    if not networks:
        raise ConfigError(
            "PROXY_COUNT is set but TRUSTED_PROXIES is empty: name the load balancers' addresses, "
            "or any client could set its own address in X-Forwarded-For"
        )
    app.wsgi_app = TrustedProxyFix(app.wsgi_app, networks, count)
