"""Real-browser fixtures: Debian's Chromium, the app on one port and host pages on other origins."""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import CHROMIUM, ROOT, make_config
from werkzeug.serving import make_server

from app import create_app

ARTIFACTS = ROOT / "test-artifacts"
# Short, so that the slow-API test does not wait long; an answer takes milliseconds.
TIMEOUT_SECONDS = 3


def pytest_collection_modifyitems(items):
    """Skip the browser tests where Chromium is missing, except in CI, where they must run."""
    if CHROMIUM.exists() or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium (CI always runs these)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@dataclass
class HostSite:
    """A static web site on its own origin, serving the host pages the tests write."""

    directory: Path
    origin: str

    def page(self, name: str, body: str, head: str = "") -> str:
        """Write ``name`` as an HTML page and return its URL."""
        html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{name}</title>'
                f"{head}</head><body>{body}</body></html>")
        (self.directory / name).write_text(html, encoding="utf-8")
        return f"{self.origin}/{name}"


def serve_directory(directory: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def stop(server, thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def host_sites(tmp_path_factory):
    """Two host sites on two ports of 127.0.0.1: the app allows the first one only."""
    sites, servers = [], []
    for name in ("allowed", "stranger"):
        directory = tmp_path_factory.mktemp(f"host-{name}")
        server, thread = serve_directory(directory)
        servers.append((server, thread))
        sites.append(HostSite(directory, f"http://127.0.0.1:{server.server_port}"))
    yield sites
    for server, thread in servers:
        stop(server, thread)


@pytest.fixture(scope="session")
def host(host_sites) -> HostSite:
    return host_sites[0]


@pytest.fixture(scope="session")
def stranger(host_sites) -> HostSite:
    return host_sites[1]


@pytest.fixture(scope="session")
def live_app(tmp_path_factory, host):
    """The app with the shipped intents and responses, on its own port, allowing ``host`` only."""
    shipped = {"INTENTS_PATH": str(ROOT / "classifier" / "intents.yml"),
               "RESPONSES_PATH": str(ROOT / "kb" / "responses.yml")}
    config = make_config(tmp_path_factory.mktemp("live"), **shipped, WIDGET_ALLOWED_ORIGINS=[host.origin],
                         WIDGET_TIMEOUT_SECONDS=TIMEOUT_SECONDS)
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield app
    stop(server, thread)


@pytest.fixture(scope="session")
def app_url(live_app) -> str:
    return live_app.config["LIVE_URL"]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
