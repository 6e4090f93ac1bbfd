"""Agent accounts: the database and its migrations, the CLI, sign-in, lockouts, CSRF and cookies."""

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import AGENT_PASSWORD, CSRF_RE, create_agent, csrf_token, make_config, sign_in

from app import create_app
from web.extensions import MIGRATIONS_DIR, db
from web.models import Agent, AgentSession, AgentToken, LoginFailure
from web.state import state

EMAIL = "agent@example.com"
PUBLIC = "https://help.example.com"


@pytest.fixture
def agent_app(tmp_path):
    """A fresh app with its own database (tiny training set, so it starts in a moment)."""
    app = create_app(make_config(tmp_path, AGENT_MAX_FAILED_LOGINS_PER_ACCOUNT=8))
    create_agent(app, EMAIL, name="Sam Lee")
    return app


def signed_in(client) -> bool:
    return client.get("/agent").status_code == 200


# --- database ------------------------------------------------------------------------


def test_first_start_creates_the_database_at_the_latest_migration(tmp_path):
    app = create_app(make_config(tmp_path))
    assert (tmp_path / "instance" / "app.db").exists()
    with app.app_context():
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert head is not None and current == head


def test_the_models_and_the_migrations_agree(tmp_path):
    app = create_app(make_config(tmp_path))
    with app.app_context(), db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []


def test_flask_db_upgrade_works_by_hand_and_a_restart_keeps_the_data(tmp_path):
    config = make_config(tmp_path, DATABASE_UPGRADE_ON_START=False, DATABASE_URL=f"sqlite:///{tmp_path / 'other.db'}")
    app = create_app(config)
    with app.app_context():
        assert "agents" not in sa.inspect(db.engine).get_table_names()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert {"agents", "agent_tokens", "login_failures"} <= set(sa.inspect(db.engine).get_table_names())
    create_agent(app, EMAIL)
    again = create_app(make_config(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'other.db'}"))
    with again.app_context():
        assert db.session.execute(sa.select(Agent.email)).scalars().all() == [EMAIL]


# --- CLI -----------------------------------------------------------------------------


def test_create_agent_hashes_the_password_with_argon2id(agent_app):
    with agent_app.app_context():
        agent = db.session.execute(sa.select(Agent)).scalar_one()
    assert agent.email == EMAIL and agent.name == "Sam Lee"
    assert agent.password_hash.startswith("$argon2id$") and AGENT_PASSWORD not in agent.password_hash


def test_a_hash_made_with_older_costs_is_upgraded_at_sign_in(agent_app, tmp_path):
    stronger = create_app(
        make_config(
            tmp_path / "stronger",
            DATABASE_URL=agent_app.config["SQLALCHEMY_DATABASE_URI"],
            ARGON2_TIME_COST=2,
            ARGON2_MEMORY_KIB=16384,
        )
    )
    assert sign_in(stronger.test_client(), EMAIL).status_code == 302
    with stronger.app_context():
        stored = db.session.execute(sa.select(Agent.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=16384,t=2,p=1$")


def test_create_agent_prompts_twice_for_the_password(agent_app):
    runner = agent_app.test_cli_runner()
    result = runner.invoke(args=["create-agent", "new@example.com"], input=f"{AGENT_PASSWORD}\n{AGENT_PASSWORD}\n")
    assert result.exit_code == 0 and "agent new@example.com created" in result.output
    result = runner.invoke(args=["create-agent", "other@example.com"], input=f"{AGENT_PASSWORD}\nsomething else\n")
    assert result.exit_code != 0 and "do not match" in result.output


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["create-agent", EMAIL, "--password-stdin"], AGENT_PASSWORD, "already exists"),
        (["create-agent", "short@example.com", "--password-stdin"], "too short", "at least 12 characters"),
        (["create-agent", "not-an-email", "--password-stdin"], AGENT_PASSWORD, "is not an email address"),
        (["create-agent", "nobody@example.com", "--update", "--password-stdin"], AGENT_PASSWORD, "no agent"),
        (["create-agent-token", "nobody@example.com"], "", "no agent"),
    ],
)
def test_cli_refuses_bad_accounts(agent_app, args, password, message):
    result = agent_app.test_cli_runner().invoke(args=args, input=password + "\n")
    assert result.exit_code != 0 and message in result.output


def test_changing_a_password_signs_out_existing_sessions(agent_app):
    client = agent_app.test_client()
    sign_in(client, EMAIL)
    assert signed_in(client)
    result = agent_app.test_cli_runner().invoke(
        args=["create-agent", EMAIL, "--update", "--password-stdin"], input="a brand new passphrase\n"
    )
    assert result.exit_code == 0, result.output
    assert not signed_in(client)
    assert sign_in(client, EMAIL, "a brand new passphrase").status_code == 302


def test_api_tokens_are_kept_only_as_digests(agent_app):
    token = agent_app.test_cli_runner().invoke(args=["create-agent-token", EMAIL]).stdout.strip()
    assert token.startswith("agt_") and len(token) > 40
    with agent_app.app_context():
        stored = db.session.execute(sa.select(AgentToken)).scalar_one()
    assert token not in stored.token_hash and len(stored.token_hash) == 64
    response = agent_app.test_client().post(
        "/api/reply", json={"message": "smtp port", "format": "text"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    with agent_app.app_context():
        assert db.session.execute(sa.select(AgentToken.last_used_at)).scalar_one() is not None


# --- sign-in -------------------------------------------------------------------------


def test_sign_in_and_out(agent_app):
    client = agent_app.test_client()
    response = sign_in(client, "  Agent@Example.com ")
    assert response.status_code == 302 and response.headers["Location"] == "/agent"
    assert signed_in(client)
    response = client.post("/agent/logout", data={"csrf_token": csrf_token(client, "/agent")})
    assert response.status_code == 302 and not signed_in(client)
    assert client.get("/agent/logout").status_code == 405


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(agent_app):
    client = agent_app.test_client()
    response = client.get("/agent")
    assert response.status_code == 302 and response.headers["Location"] == "/agent/login?next=/agent"
    token = csrf_token(client)
    data = {"csrf_token": token, "email": EMAIL, "password": AGENT_PASSWORD}
    response = client.post("/agent/login?next=//evil.example/x", data=data)
    assert response.headers["Location"] == "/agent"


def test_wrong_password_is_refused_with_a_clear_message(agent_app):
    client = agent_app.test_client()
    response = sign_in(client, EMAIL, "not the password")
    page = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "Wrong email or password. 4 more failed attempts and sign-in from your network slows down." in page
    assert not signed_in(client)


def test_unknown_addresses_get_the_same_answer_as_real_ones(agent_app):
    client = agent_app.test_client()
    known = sign_in(client, EMAIL, "not the password").get_data(as_text=True)
    unknown = sign_in(client, "ghost@example.com", "not the password").get_data(as_text=True)
    assert "Wrong email or password. 4 more failed attempts" in known
    assert "Wrong email or password. 3 more failed attempts" in unknown


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def age_attempts(app, seconds: float) -> None:
    """Let time pass for the sign-in attempts (they live in the database, as every app server sees them)."""
    with app.app_context():
        for attempt in db.session.execute(sa.select(LoginFailure)).scalars():
            attempt.at -= dt.timedelta(seconds=seconds)
        db.session.commit()


def test_failures_slow_down_their_address_and_lock_nobody_else_out(agent_app):
    attacker = from_address(agent_app, "198.51.100.7")
    for left in (4, 3, 2, 1):
        assert f"{left} more failed attempt" in sign_in(attacker, EMAIL, "wrong guess").get_data(as_text=True)
    assert sign_in(attacker, EMAIL, "wrong guess").status_code == 401
    # Now that address waits before every attempt, longer each time; even the right password waits.
    response = sign_in(attacker, EMAIL)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert "Too many failed sign-ins from your network. Try again in 1 second." in response.get_data(as_text=True)
    # The agent, signing in from elsewhere, is not locked out by it.
    assert sign_in(from_address(agent_app, "203.0.113.5"), EMAIL).status_code == 302
    age_attempts(agent_app, 3)
    assert sign_in(attacker, "someone@example.com", "wrong guess").status_code == 401
    response = sign_in(attacker, EMAIL, "wrong guess")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 1


def test_a_slowdown_holds_for_other_app_servers_on_the_same_database(agent_app, tmp_path):
    for _ in range(5):
        sign_in(from_address(agent_app, "198.51.100.8"), EMAIL, "wrong guess")
    other_server = create_app(make_config(tmp_path / "other", DATABASE_URL=agent_app.config["SQLALCHEMY_DATABASE_URI"]))
    assert sign_in(from_address(other_server, "198.51.100.8"), EMAIL).status_code == 429


def test_many_addresses_failing_on_one_account_lock_it_until_an_admin_unlocks_it(agent_app):
    for number in range(8):  # AGENT_MAX_FAILED_LOGINS_PER_ACCOUNT in this app
        assert sign_in(from_address(agent_app, f"198.51.100.{number}"), EMAIL, "wrong guess").status_code == 401
    response = sign_in(from_address(agent_app, "203.0.113.9"), EMAIL)
    assert response.status_code == 429 and "This account is locked after 8 failed sign-ins" in response.get_data(
        as_text=True
    )
    result = agent_app.test_cli_runner().invoke(args=["unlock-agent", EMAIL])
    assert result.exit_code == 0 and f"{EMAIL} unlocked" in result.output
    assert sign_in(from_address(agent_app, "203.0.113.9"), EMAIL).status_code == 302


def test_parallel_guesses_get_no_more_password_checks_than_the_limit(agent_app):
    """16 guesses at once from one address: each attempt is recorded before it is judged, so only 5 are checked."""
    hasher = state(agent_app).passwords
    checks, lock = [], threading.Lock()

    class Counting(type(hasher)):
        def verify(self, hash, password):
            with lock:
                checks.append(password)
            return super().verify(hash, password)

    counting = Counting(time_cost=1, memory_cost=8192, parallelism=1)
    state(agent_app).passwords = counting
    clients = [from_address(agent_app, "198.51.100.66") for _ in range(16)]
    tokens = [csrf_token(client) for client in clients]
    start = threading.Barrier(16)
    statuses = []

    def guess(client, token, number):
        start.wait()
        data = {"csrf_token": token, "email": EMAIL, "password": f"guess {number}"}
        statuses.append(client.post("/agent/login", data=data).status_code)

    try:
        threads = [
            threading.Thread(target=guess, args=(c, t, n)) for n, (c, t) in enumerate(zip(clients, tokens, strict=True))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        state(agent_app).passwords = hasher
    assert len(statuses) == 16 and set(statuses) <= {401, 429}
    assert len([p for p in checks if p.startswith("guess")]) <= 5


def test_forms_without_a_csrf_token_are_refused(agent_app):
    client = agent_app.test_client()
    response = client.post("/agent/login", data={"email": EMAIL, "password": AGENT_PASSWORD})
    assert response.status_code == 400 and not signed_in(client)
    response = client.post("/agent/login", data={"csrf_token": "forged", "email": EMAIL, "password": AGENT_PASSWORD})
    assert response.status_code == 400 and not signed_in(client)
    sign_in(client, EMAIL)
    response = client.post("/agent", data={"message": "smtp port", "intent": ""})
    assert response.status_code == 400 and "This form expired" in response.get_data(as_text=True)
    client.post("/agent/logout", data={})
    assert signed_in(client)


def test_no_console_or_reply_api_without_signing_in(agent_app):
    client = agent_app.test_client()
    response = client.get("/agent")
    assert response.status_code == 302 and response.headers["Location"].startswith("/agent/login")
    assert client.post("/agent", data={"message": "smtp port"}).status_code in (302, 400)
    response = client.post("/api/reply", json={"message": "smtp port", "format": "text"})
    assert response.status_code == 401 and response.is_json


def session_cookie(app, base_url: str) -> str:
    client = app.test_client()
    response = client.post(
        "/agent/login",
        base_url=base_url,
        data={"csrf_token": csrf_token_at(client, base_url), "email": EMAIL, "password": AGENT_PASSWORD},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Set-Cookie"]


def csrf_token_at(client, base_url: str) -> str:
    match = CSRF_RE.search(client.get("/agent/login", base_url=base_url).get_data(as_text=True))
    return match.group(1)


def test_session_cookie_is_secure_in_production_and_over_https(tmp_path):
    config = make_config(
        tmp_path / "prod", TESTING=False, PRODUCTION=True, SINGLE_NODE=True, LOG_JSON=False, HELP_CENTER_URL=PUBLIC
    )
    production = create_app(config)
    create_agent(production, EMAIL)
    cookie = session_cookie(production, "http://help.example.com")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    development = create_app(make_config(tmp_path / "dev", TESTING=False, LOG_JSON=False))
    create_agent(development, EMAIL)
    assert "Secure" in session_cookie(development, "https://dev-vm.example:5000")


@pytest.mark.parametrize(
    "target", ["/%09/evil.example", "/%0d/x", "/%0a/x", "/\\evil.example", "/%5c/evil.example", "//evil.example"]
)
def test_sign_in_never_redirects_off_site_or_fails_on_an_odd_next(agent_app, target):
    client = agent_app.test_client()
    data = {"csrf_token": csrf_token(client), "email": EMAIL, "password": AGENT_PASSWORD}
    response = client.post(f"/agent/login?next={target}", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/agent"


def test_a_token_notes_its_use_rarely_and_a_busy_database_never_fails_the_reply(agent_app):
    token = agent_app.test_cli_runner().invoke(args=["create-agent-token", EMAIL]).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"message": "smtp port", "format": "text"}
    client = agent_app.test_client()
    assert client.post("/api/reply", json=body, headers=headers).status_code == 200
    with agent_app.app_context():
        first = db.session.execute(sa.select(AgentToken.last_used_at)).scalar_one()
        # Another writer holds the database: a reply must not need to write.
        blocker = db.engine.raw_connection()
        blocker.execute("BEGIN IMMEDIATE")
        try:
            for _ in range(3):
                assert client.post("/api/reply", json=body, headers=headers).status_code == 200
        finally:
            blocker.rollback()
            blocker.close()
        assert db.session.execute(sa.select(AgentToken.last_used_at)).scalar_one() == first


# --- sessions and tokens that end -------------------------------------------------------


def test_a_cookie_captured_before_sign_out_opens_nothing_after_it(agent_app):
    client = agent_app.test_client()
    sign_in(client, EMAIL)
    captured = client.get_cookie("session").value
    client.post("/agent/logout", data={"csrf_token": csrf_token(client, "/agent")})
    thief = agent_app.test_client()
    thief.set_cookie("session", captured)
    assert not signed_in(thief)
    assert thief.get("/admin").status_code == 302


def test_sessions_expire(agent_app):
    client = agent_app.test_client()
    sign_in(client, EMAIL)
    with agent_app.app_context():
        [session] = db.session.execute(sa.select(AgentSession)).scalars().all()
        lifetime = session.expires_at - session.created_at
        session.expires_at = dt.datetime(2000, 1, 1)
        db.session.commit()
    assert lifetime == dt.timedelta(hours=12)
    assert not signed_in(client)


def test_a_password_change_ends_every_session_and_token(agent_app):
    runner = agent_app.test_cli_runner()
    token = runner.invoke(args=["create-agent-token", EMAIL, "--label", "zendesk"]).stdout.strip()
    client = agent_app.test_client()
    sign_in(client, EMAIL)
    headers = {"Authorization": f"Bearer {token}"}
    reply = {"message": "smtp port", "format": "text"}
    assert client.post("/api/reply", json=reply, headers=headers).status_code == 200
    result = runner.invoke(args=["create-agent", EMAIL, "--update", "--password-stdin"], input="another passphrase 7\n")
    assert "1 sessions ended, 1 API tokens revoked" in result.output
    assert not signed_in(client)
    assert client.post("/api/reply", json=reply, headers=headers).status_code == 401


def test_tokens_are_listed_and_revoked_and_sessions_ended_from_the_command_line(agent_app):
    runner = agent_app.test_cli_runner()
    first = runner.invoke(args=["create-agent-token", EMAIL, "--label", "zendesk"]).stdout.strip()
    second = runner.invoke(args=["create-agent-token", EMAIL, "--label", "macros"]).stdout.strip()
    listed = runner.invoke(args=["list-tokens", EMAIL]).output
    assert "zendesk" in listed and "macros" in listed and "last used never" in listed
    assert first not in listed and second not in listed
    token_id = listed.split("\t", 1)[0]
    assert "1 token revoked" in runner.invoke(args=["revoke-token", token_id]).output
    reply = {"message": "smtp port", "format": "text"}
    client = agent_app.test_client()
    assert client.post("/api/reply", json=reply, headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert client.post("/api/reply", json=reply, headers={"Authorization": f"Bearer {second}"}).status_code == 200
    assert "1 token revoked" in runner.invoke(args=["revoke-token", "--agent", EMAIL]).output
    assert client.post("/api/reply", json=reply, headers={"Authorization": f"Bearer {second}"}).status_code == 401
    sign_in(client, EMAIL)
    assert "1 session of agent@example.com ended" in runner.invoke(args=["end-sessions", EMAIL]).output
    assert not signed_in(client)
    listed = runner.invoke(args=["list-agents"]).output
    assert "agent@example.com\tagent\t" in listed and "0 sessions\t0 tokens" in listed


# --- roles ---------------------------------------------------------------------------


def agent_pages(page: str) -> str:
    """Return the console's navigation between the agents' pages."""
    return page.split('aria-label="Agent pages"')[1].split("</nav>")[0]


def test_only_admins_see_the_inbox_reports_and_change_the_training(agent_app):
    agent = agent_app.test_client()
    sign_in(agent, EMAIL)
    for path in ("/admin", "/admin/reports"):
        response = agent.get(path)
        assert response.status_code == 403 and "for administrators" in response.get_data(as_text=True)
    for path in ("/admin/training", "/admin/training/import", "/admin/synonyms", "/admin/notes"):
        assert agent.post(path, data={"csrf_token": csrf_token(agent, "/agent")}).status_code == 403
    assert "Knowledge gaps" not in agent_pages(agent.get("/agent").get_data(as_text=True))
    assert "Knowledge gaps" not in agent.get("/").get_data(as_text=True)  # nor the help center's footer
    assert "Knowledge gaps" in agent_app.test_client().get("/").get_data(as_text=True)  # signed out: it asks
    create_agent(agent_app, "lead@example.com", role="admin")
    admin = agent_app.test_client()
    sign_in(admin, "lead@example.com")
    assert admin.get("/admin").status_code == 200 and admin.get("/admin/reports").status_code == 200
    assert "Knowledge gaps" in agent_pages(admin.get("/agent").get_data(as_text=True))
    runner = agent_app.test_cli_runner()
    assert "is now admin" in runner.invoke(args=["set-role", EMAIL, "admin"]).output
    sign_in(agent, EMAIL)
    assert agent.get("/admin").status_code == 200


ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, "
        f"*{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}, *{chr(97 + n)}]\n"
        for n in range(12)
    )
    + "intents:\n- intent: greeting\n  examples: *m\n"
)


@pytest.mark.parametrize(
    ("upload", "status", "message"),
    [
        (ALIAS_BOMB.encode(), 400, "anchors and aliases"),
        (b"intents:\n- intent: greeting\n  examples: [" + b"hello there, " * 20_000 + b"]\n", 413, "too large"),
    ],
    ids=["alias-bomb", "too-large"],
)
def test_training_uploads_are_bounded_in_size_and_aliases(agent_app, upload, status, message):
    import io
    import time

    create_agent(agent_app, "lead@example.com", role="admin")
    admin = agent_app.test_client()
    sign_in(admin, "lead@example.com")
    data = {"csrf_token": csrf_token(admin, "/admin"), "file": (io.BytesIO(upload), "examples.yml")}
    start = time.perf_counter()
    response = admin.post("/admin/training/import", data=data, content_type="multipart/form-data")
    assert response.status_code == status and message in response.get_data(as_text=True)
    assert time.perf_counter() - start < 1


def test_a_development_run_over_plain_http_signs_in_on_any_host_name(tmp_path):
    app = create_app(make_config(tmp_path, TESTING=False, LOG_JSON=False))
    create_agent(app, EMAIL)
    cookie = session_cookie(app, "http://dev-vm.example:5000")
    # A browser drops a Secure cookie that came over plain HTTP: the next form would "expire".
    assert "Secure" not in cookie and "HttpOnly" in cookie


def test_a_configured_secure_flag_wins(tmp_path):
    app = create_app(make_config(tmp_path, SESSION_COOKIE_SECURE=True))
    create_agent(app, EMAIL)
    assert "Secure" in session_cookie(app, "http://localhost")
