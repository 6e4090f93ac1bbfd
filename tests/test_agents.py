"""Agent accounts: the database and its migrations, the CLI, sign-in, lockouts, CSRF and cookies."""

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import AGENT_PASSWORD, CSRF_RE, create_agent, csrf_token, make_config, sign_in

from app import create_app
from web.extensions import MIGRATIONS_DIR, db
from web.models import Agent, AgentToken, LoginFailure

EMAIL = "agent@example.com"


@pytest.fixture
def agent_app(tmp_path):
    """A fresh app with its own database (tiny training set, so it starts in a moment)."""
    app = create_app(make_config(tmp_path, AGENT_MAX_FAILED_LOGINS_PER_IP=8))
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
    assert "Wrong email or password. 4 more failed attempts will lock this account for 15 minutes." in page
    assert not signed_in(client)


def test_unknown_addresses_get_the_same_answer_as_real_ones(agent_app):
    client = agent_app.test_client()
    known = sign_in(client, EMAIL, "not the password").get_data(as_text=True)
    unknown = sign_in(client, "ghost@example.com", "not the password").get_data(as_text=True)
    message = "Wrong email or password. 4 more failed attempts"
    assert message in known and message in unknown


def test_five_failures_lock_the_account_for_fifteen_minutes(agent_app):
    client = agent_app.test_client()
    for left in (4, 3, 2, 1):
        assert f"{left} more failed attempt" in sign_in(client, EMAIL, "wrong guess").get_data(as_text=True)
    response = sign_in(client, EMAIL, "wrong guess")
    assert response.status_code == 429 and "This account is now locked for 15 minutes." in response.get_data(
        as_text=True
    )
    # Even the right password is refused while locked, and says until when.
    response = sign_in(client, EMAIL)
    assert response.status_code == 429
    assert "locked for 15 minutes after 5 failed sign-ins. Try again in 15 minutes" in response.get_data(as_text=True)
    assert not signed_in(client)
    # The lock lives in the database (every app server sees it): let 16 minutes pass there.
    with agent_app.app_context():
        for failure in db.session.execute(sa.select(LoginFailure)).scalars():
            failure.at -= dt.timedelta(minutes=16)
        db.session.commit()
    assert sign_in(client, EMAIL).status_code == 302 and signed_in(client)
    with agent_app.app_context():
        assert db.session.execute(sa.select(LoginFailure).where(LoginFailure.email == EMAIL)).first() is None


def test_a_lock_holds_for_other_app_servers_on_the_same_database(agent_app, tmp_path):
    for _ in range(5):
        sign_in(agent_app.test_client(), EMAIL, "wrong guess")
    other_server = create_app(make_config(tmp_path / "other", DATABASE_URL=agent_app.config["SQLALCHEMY_DATABASE_URI"]))
    assert sign_in(other_server.test_client(), EMAIL).status_code == 429


def test_many_failures_from_one_address_block_that_address(agent_app):
    attacker = agent_app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "127.0.9.9"
    for number in range(8):
        sign_in(attacker, f"guess{number}@example.com", "wrong guess")
    response = sign_in(attacker, EMAIL)
    assert response.status_code == 429 and "Too many failed sign-ins from your network" in response.get_data(
        as_text=True
    )
    colleague = agent_app.test_client()
    colleague.environ_base["REMOTE_ADDR"] = "127.0.9.10"
    assert sign_in(colleague, EMAIL).status_code == 302


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
    config = make_config(tmp_path / "prod", TESTING=False, PRODUCTION=True, SINGLE_NODE=True, LOG_JSON=False)
    production = create_app(config)
    create_agent(production, EMAIL)
    cookie = session_cookie(production, "http://help.example.com")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    development = create_app(make_config(tmp_path / "dev", TESTING=False, LOG_JSON=False))
    create_agent(development, EMAIL)
    assert "Secure" in session_cookie(development, "https://dev-vm.example:5000")


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
