"""Production behaviour: health, request ids and JSON logs, limits, OpenAPI, faults, and machine-made bad input."""

import json
import logging
import multiprocessing
import threading
import time

import pytest
import schemathesis
from conftest import make_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from kb.index import build_index
from web.answering import help_center_url
from web.config import ConfigError
from web.observability import JsonFormatter, RequestContextFilter
from web.ratelimit import NodeCounts, ProcessCounts
from web.state import knowledge


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "index": True, "model": True, "knowledge_version": 0, "degraded": []}


def test_not_ready_without_an_index(tmp_path):
    app = create_app(make_config(tmp_path))
    (tmp_path / "index" / "CURRENT").unlink()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["index"] is False


def test_every_response_carries_a_request_id(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "lb-abc.123"}).headers["X-Request-ID"] == "lb-abc.123"
    forged = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert forged != "bad id <script>" and len(forged) == 32


def test_log_lines_are_json_with_the_request_id(app):
    formatter, context = JsonFormatter(), RequestContextFilter()
    with app.test_request_context("/api/search?q=x", headers={"X-Request-ID": "req-42"}):
        app.preprocess_request()
        record = logging.LogRecord("kb", logging.INFO, __file__, 1, "searched %s", ("imap",), None)
        context.filter(record)
        line = json.loads(formatter.format(record))
    assert line["message"] == "searched imap" and line["request_id"] == "req-42" and line["level"] == "INFO"


def test_ask_is_rate_limited_per_client_with_a_json_429(tmp_path):
    client = create_app(make_config(tmp_path, ASK_RATE_LIMIT="2 per minute")).test_client()
    for _ in range(2):
        assert client.post("/api/ask", json={"question": "hello"}).status_code == 200
    limited = client.post("/api/ask", json={"question": "hello"})
    assert limited.status_code == 429 and "too many requests" in limited.get_json()["error"]
    assert int(limited.headers["Retry-After"]) > 0
    other = client.post("/api/ask", json={"question": "hello"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200


def test_the_whole_api_is_rate_limited(tmp_path):
    client = create_app(make_config(tmp_path, API_RATE_LIMIT="3 per minute")).test_client()
    codes = [client.get("/api/search?q=imap").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/").status_code == 200  # pages are not limited


def test_api_responses_say_how_much_of_the_limit_is_left(tmp_path):
    config = make_config(
        tmp_path, API_RATE_LIMIT="5 per minute", ASK_RATE_LIMIT="3 per minute", RATELIMIT_HEADERS_ENABLED=True
    )
    client = create_app(config).test_client()
    searched = client.get("/api/search?q=imap")
    assert (searched.headers["X-RateLimit-Limit"], searched.headers["X-RateLimit-Remaining"]) == ("5", "4")
    asked = client.post("/api/ask", json={"question": "hello"})  # the tighter ask limit is the one reported
    assert (asked.headers["X-RateLimit-Limit"], asked.headers["X-RateLimit-Remaining"]) == ("3", "2")
    assert int(asked.headers["X-RateLimit-Reset"]) > 0
    assert "X-RateLimit-Limit" not in client.get("/healthz").headers
    quiet = create_app(make_config(tmp_path / "quiet")).test_client()
    assert "X-RateLimit-Limit" not in quiet.get("/api/search?q=imap").headers


def test_questions_have_their_own_limit_instead_of_the_api_one(tmp_path):
    config = make_config(tmp_path, API_RATE_LIMIT="2 per minute", ASK_RATE_LIMIT="3 per minute")
    client = create_app(config).test_client()
    assert [client.post("/api/ask", json={"question": "hello"}).status_code for _ in range(4)] == [200, 200, 200, 429]
    for _ in range(3):
        assert client.options("/api/search").status_code == 200  # preflights are not counted
    assert [client.get("/api/search?q=imap").status_code for _ in range(3)] == [200, 200, 429]


def test_pages_doing_an_api_calls_work_count_against_the_api_limit(tmp_path):
    client = create_app(make_config(tmp_path, API_RATE_LIMIT="2 per minute")).test_client()
    assert client.get("/search?q=imap").status_code == 200
    assert client.get("/api/search?q=imap").status_code == 200
    limited = client.get("/search?q=imap")
    assert limited.status_code == 429 and "too many requests" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get("/check").status_code == 200  # the form itself is not counted


def test_process_counts_keep_fixed_windows_without_a_thread(monkeypatch):
    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import FixedWindowRateLimiter

    clock = [1000.0]
    monkeypatch.setattr("web.ratelimit.time.time", lambda: clock[0])
    storage = storage_from_string("process://")
    assert isinstance(storage, ProcessCounts)
    limiter, two = FixedWindowRateLimiter(storage), parse("2 per minute")
    threads = threading.active_count()
    assert [limiter.hit(two, "10.0.0.1") for _ in range(3)] == [True, True, False]
    assert limiter.hit(two, "10.0.0.2")  # another client has its own window
    assert threading.active_count() == threads
    stats = limiter.get_window_stats(two, "10.0.0.1")
    assert stats.remaining == 0 and stats.reset_time == 1060.0
    clock[0] = 1060.0  # the window has ended: counting starts again
    assert limiter.hit(two, "10.0.0.1") and limiter.get_window_stats(two, "10.0.0.1").remaining == 1
    clock[0] = 1000.0 + 60 + ProcessCounts.SWEEP_SECONDS  # a later hit sweeps ended windows away
    limiter.hit(two, "10.0.0.3")
    assert set(storage._windows) == {two.key_for("10.0.0.3")}


def test_limits_are_shared_by_every_worker_of_a_node(tmp_path):
    """Two apps on one instance folder, as two gunicorn workers are: together they let a limit through once."""
    config = make_config(tmp_path, ASK_RATE_LIMIT="60 per minute")
    workers = [create_app(config).test_client(), create_app(config).test_client()]
    codes = [workers[n % 2].post("/api/ask", json={"question": "smtp port"}).status_code for n in range(120)]
    assert codes.count(200) == 60 and codes.count(429) == 60


def count_in_a_child(path: str, hits: int, key: str) -> None:
    storage = NodeCounts(path=path)
    for _ in range(hits):
        storage.incr(key, 60)


def test_node_counts_count_every_hit_of_processes_hitting_at_once(tmp_path):
    path = str(tmp_path / "counts")
    children = [
        multiprocessing.get_context("fork").Process(target=count_in_a_child, args=(path, 500, "k")) for _ in range(4)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    assert NodeCounts(path=path).get("k") == 2000


def test_node_counts_keep_fixed_windows_reuse_ended_slots_and_cost_microseconds(tmp_path, monkeypatch):
    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    clock = [1000.0]
    monkeypatch.setattr("web.ratelimit.time.time", lambda: clock[0])
    storage = NodeCounts(path=str(tmp_path / "counts"))
    limiter, two = FixedWindowRateLimiter(storage), parse("2 per minute")
    assert [limiter.hit(two, "10.0.0.1") for _ in range(3)] == [True, True, False]
    assert limiter.hit(two, "10.0.0.2")
    stats = limiter.get_window_stats(two, "10.0.0.1")
    assert stats.remaining == 0 and stats.reset_time == 1060.0
    clock[0] = 1060.0
    assert limiter.hit(two, "10.0.0.1") and limiter.get_window_stats(two, "10.0.0.1").remaining == 1
    # More live keys than a key's slots: the window ending first gives way, nothing fails.
    for n in range(NodeCounts.SLOTS + 100):
        storage.incr(f"key-{n}", 60)
    monkeypatch.undo()
    start = time.perf_counter()
    for n in range(2000):
        storage.incr(f"client-{n % 50}", 60)
    assert (time.perf_counter() - start) / 2000 < 50e-6  # a hit must stay cheap beside an answer (~1 ms)


@pytest.mark.parametrize("spoofed", ["198.51.100.1", "198.51.100.2, 10.0.0.2"])
def test_forwarded_addresses_are_believed_only_from_trusted_proxies(tmp_path, spoofed):
    config = make_config(tmp_path, ASK_RATE_LIMIT="3 per minute", PROXY_COUNT=1, TRUSTED_PROXIES=["10.0.0.0/24"])
    client = create_app(config).test_client()
    # A client reaching the node directly: whatever X-Forwarded-For it sends, it is counted as itself.
    direct = {"REMOTE_ADDR": "203.0.113.50"}
    codes = [
        client.post(
            "/api/ask", json={"question": "hi"}, environ_base=direct, headers={"X-Forwarded-For": f"{spoofed}{n}"}
        ).status_code
        for n in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    # Through the load balancer, each client is counted by the address the balancer saw.
    balancer = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(5):
        headers = {"X-Forwarded-For": f"192.0.2.{n}"}
        assert (
            client.post("/api/ask", json={"question": "hi"}, environ_base=balancer, headers=headers).status_code == 200
        )


def test_a_proxy_count_without_trusted_proxies_stops_the_start(tmp_path):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        create_app(make_config(tmp_path, PROXY_COUNT=1))
    with pytest.raises(ConfigError, match="not an address"):
        create_app(make_config(tmp_path, PROXY_COUNT=1, TRUSTED_PROXIES="10.0.0.0/33"))


class UnreachableCounts(ProcessCounts):
    """A rate-limit store that is down, as an unreachable Redis is."""

    STORAGE_SCHEME = ["unreachable-test"]

    def incr(self, key, expiry, amount=1):
        raise ValueError("storage unreachable")


def test_a_failing_rate_limit_store_lets_requests_through_and_logs_it_once(tmp_path, caplog):
    client = create_app(make_config(tmp_path, RATELIMIT_STORAGE_URI="unreachable-test://")).test_client()
    with caplog.at_level(logging.ERROR):
        assert client.get("/api/search?q=imap").status_code == 200
        assert client.post("/api/ask", json={"question": "hello"}).status_code == 200
    assert caplog.text.count("rate limit storage failed") == 1


def test_the_api_answers_with_rate_limiting_switched_off(tmp_path):
    client = create_app(make_config(tmp_path, RATELIMIT_ENABLED=False)).test_client()
    assert client.post("/api/ask", json={"question": "smtp port"}).status_code == 200
    assert client.get("/api/search?q=imap").status_code == 200


def test_large_bodies_are_refused_with_a_json_413(client):
    response = client.post("/api/ask", data="x" * (70 * 1024), content_type="application/json")
    assert response.status_code == 413 and "too large" in response.get_json()["error"]


def test_openapi_describes_every_api_route(app, client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    described = {path.replace("{", "<").replace("}", ">") for path in spec["paths"]}
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert routes == described


# --- machine-made bad input ------------------------------------------------------------

machine_settings = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@machine_settings
@given(q=st.text(max_size=600), limit=st.one_of(st.none(), st.text(max_size=5), st.integers(-5, 100)))
def test_search_never_fails_on_any_text(client, q, limit):
    params = {"q": q} if limit is None else {"q": q, "limit": limit}
    response = client.get("/api/search", query_string=params)
    assert response.status_code in (200, 400) and response.is_json
    assert "error" in response.get_json() or "results" in response.get_json()


@machine_settings
@given(
    body=st.one_of(
        st.dictionaries(
            st.text(max_size=10), st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=50)), max_size=4
        ),
        st.fixed_dictionaries({"question": st.text(max_size=2100)}),
        st.lists(st.integers(), max_size=3),
        st.text(max_size=30),
        st.integers(),
    )
)
def test_ask_never_fails_on_any_json(client, body):
    response = client.post("/api/ask", data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400) and response.is_json


@machine_settings
@given(raw=st.binary(max_size=300))
def test_ask_never_fails_on_any_bytes(client, raw):
    response = client.post("/api/ask", data=raw, content_type="application/json")
    assert response.status_code in (200, 400) and response.is_json


def fuzz_app():
    """An app of its own for schemathesis, built when this module is collected."""
    import tempfile
    from pathlib import Path

    return create_app(make_config(Path(tempfile.mkdtemp(prefix="fuzz-"))))


schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_matches_its_description_and_never_errors(case):
    response = case.call()
    assert response.status_code < 500, response.text
    if case.method != "OPTIONS":  # Flask answers OPTIONS itself with an empty body and Allow
        assert response.headers["content-type"][0].startswith("application/json"), (case.method, case.formatted_path)
    case.validate_response(response)


# --- faults --------------------------------------------------------------------------------


def test_requests_keep_working_while_the_index_is_rebuilt(app):
    """Hammer search and ask while full rebuilds swap the index underneath: zero errors."""
    base = knowledge(app).base
    errors, done, served = [], threading.Event(), [0]

    def hammer(kind):
        client = app.test_client()
        while not done.is_set():
            if kind == "search":
                response = client.get("/api/search?q=smtp+port")
                ok = response.status_code == 200 and response.get_json()["results"]
            else:
                response = client.post("/api/ask", json={"question": "what is the imap server"})
                ok = response.status_code == 200 and response.get_json()["intent"] == "imap_settings"
            if not ok:
                errors.append((kind, response.status_code, response.get_data(as_text=True)[:200]))
            served[0] += 1

    workers = [threading.Thread(target=hammer, args=(kind,)) for kind in ("search", "search", "ask")]
    for worker in workers:
        worker.start()
    try:
        for _ in range(4):
            build_index(base.library, app.config["INDEX_DIR"], full=True)
    finally:
        done.set()
        for worker in workers:
            worker.join()
    assert errors == [] and served[0] > 20


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # whoosh leaks the bad file's handle
def test_a_corrupt_index_is_rebuilt_on_start(tmp_path, caplog):
    create_app(make_config(tmp_path))
    for toc in (tmp_path / "index").glob("build-*/*.toc"):
        toc.write_bytes(b"garbage")
    with caplog.at_level(logging.ERROR):
        app = create_app(make_config(tmp_path))
    assert "unreadable; rebuilding" in caplog.text
    assert app.test_client().get("/api/search?q=imap").status_code == 200


def test_a_corrupt_model_is_retrained_on_start(tmp_path, caplog):
    app = create_app(make_config(tmp_path))
    model_path = tmp_path / "instance" / "intent_model.joblib"
    model_path.write_bytes(b"\x80garbage")
    with caplog.at_level(logging.WARNING):
        app = create_app(make_config(tmp_path))
    assert "unreadable" in caplog.text and "retrained" in caplog.text
    assert app.test_client().post("/api/ask", json={"question": "hello"}).status_code == 200


def test_production_needs_a_public_url_and_links_never_take_the_request_host(tmp_path):
    with pytest.raises(ConfigError, match="HELP_CENTER_URL is not set"):
        create_app(make_config(tmp_path, PRODUCTION=True))
    with pytest.raises(ConfigError, match="HELP_CENTER_URL must be an http"):
        create_app(make_config(tmp_path, HELP_CENTER_URL="help.example.com"))
    app = create_app(make_config(tmp_path, PRODUCTION=True, SINGLE_NODE=True, HELP_CENTER_URL="https://help.example.com"))
    client = app.test_client()
    for path in ("/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"):
        body = client.get(path, headers={"Host": "evil.example"}).get_data(as_text=True)
        assert "evil.example" not in body and "https://help.example.com/articles/email-client-settings" in body
    with app.test_request_context("/api/reply", headers={"Host": "evil.example"}):
        assert help_center_url() == "https://help.example.com/"  # the root of every link in a reply


def test_logs_are_readable_text_in_development_and_json_in_production(tmp_path):
    from web.observability import TextFormatter, log_as_json

    assert not log_as_json(create_app(make_config(tmp_path / "dev")))
    public = "https://help.example.com"
    prod = make_config(tmp_path / "prod", PRODUCTION=True, SINGLE_NODE=True, HELP_CENTER_URL=public)
    assert log_as_json(create_app(prod))
    debug = make_config(tmp_path / "debug", PRODUCTION=True, SINGLE_NODE=True, DEBUG=True, HELP_CENTER_URL=public)
    assert not log_as_json(create_app(debug))
    assert log_as_json(create_app(make_config(tmp_path / "chosen", LOG_JSON=True)))
    record = logging.LogRecord("access", logging.INFO, __file__, 1, "%s %s %s %.1f ms", ("GET", "/", 200, 3.14), None)
    assert TextFormatter().format(record).endswith(" INFO    access: GET / 200 3.1 ms")


def test_one_line_per_request_and_no_colour_codes_in_json():
    from web.observability import DevServerRequestLines

    # What Werkzeug's development server logs for each request, coloured, besides the app's access line.
    line = ("127.0.0.1", "now", "\x1b[32mGET / 200\x1b[0m")
    served = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "%s - - [%s] %s\n", line, None)
    running = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, " * Running on %s", ("http://x",), None)
    assert not DevServerRequestLines().filter(served) and DevServerRequestLines().filter(running)
    warning = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, "\x1b[31mdevelopment server\x1b[0m", (), None)
    assert json.loads(JsonFormatter().format(warning))["message"] == "development server"


def test_a_flask_command_prints_only_its_own_output(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT, TINY_INTENTS, TINY_RESPONSES

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    config = {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "INDEX_DIR": str(tmp_path / "index"),
        "INTENTS_PATH": str(TINY_INTENTS),
        "RESPONSES_PATH": str(TINY_RESPONSES),
        "SECRET_KEY": "test",
    }
    # Flask calls the factory with these literal arguments, as a deployment's `--app` could.
    flask = [sys.executable, "-m", "flask", "--app", f"app:create_app({config!r})", "report", "--format", "csv"]
    done = subprocess.run([*flask, "--days", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # The first start builds the index, trains the model and migrates the database: none of it is printed.
    assert done.stdout.startswith("report,key,label,day,count,helpful,not_helpful,rate\n")
    assert done.stderr == "0 questions, 0 searches over 1 days\n"
