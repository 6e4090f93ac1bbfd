"""The agent console and POST /api/reply: paste a message, get the answer and a reply to paste."""

import html
import json
import re

import pytest
import sqlalchemy as sa
from conftest import create_agent, csrf_token, sign_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import DEFAULT_SETTINGS_PATH
from kb.settings import load_settings
from web.extensions import db
from web.models import Event
from web.state import knowledge, state

SETTINGS = load_settings(DEFAULT_SETTINGS_PATH)
HOST = "http://localhost/"
SIGNATURE = "Sam Lee\nSupport"
PASTED = """Hi there,

What are the IMAP settings?

Thanks,
Anna

On Tue, 4 Mar 2026 at 09:00, Support Team <help@example.com> wrote:
> Hello Anna,
> how can we help you today?
"""


def expected_imap_reply(fmt: str) -> str:
    """The reply to PASTED for Anna, signed "Sam Lee / Support", written out by hand from the settings."""
    imap, login = SETTINGS.imap, SETTINGS.login
    client_settings = f"{HOST}articles/email-client-settings#incoming-mail-imap"
    protocols = f"{HOST}articles/email-protocols#imap-supported"
    if fmt == "text":
        return f"""Hello Anna,

Incoming mail uses IMAP, the default and recommended protocol (POP3 is
not supported):

Incoming mail ({imap.protocol})
  Server:          {imap.host}
  Port:            {imap.port}
  Security:        {imap.security}
  Username:        {login.username}
  Authentication:  {login.authentication}

Read more:
- Email client settings: Incoming mail (IMAP)
  {client_settings}
- Email protocols: IMAP (Supported)
  {protocols}

Source: Email client settings › Incoming mail (IMAP)

Best regards,
Sam Lee
Support
"""
    markdown = f"""Hello Anna,

Incoming mail uses **IMAP**, the default and recommended protocol (POP3 is not supported):

**Incoming mail ({imap.protocol})**

- Server: `{imap.host}`
- Port: {imap.port}
- Security: {imap.security}
- Username: {login.username}
- Authentication: {login.authentication}

Read more:

- [Email client settings: Incoming mail (IMAP)]({client_settings})
- [Email protocols: IMAP (Supported)]({protocols})

Source: Email client settings › Incoming mail (IMAP)

Best regards,  
Sam Lee  
Support
"""  # noqa: W291 (two trailing spaces are Markdown's line break)
    if fmt == "markdown":
        return markdown
    link = '<a href="{}" rel="noopener noreferrer">{}</a>'
    return f"""<p>Hello Anna,</p>
<p>Incoming mail uses <strong>IMAP</strong>, the default and recommended protocol (POP3 is not supported):</p>
<p><strong>Incoming mail ({imap.protocol})</strong></p>
<ul>
<li>Server: <code>{imap.host}</code></li>
<li>Port: {imap.port}</li>
<li>Security: {imap.security}</li>
<li>Username: {login.username}</li>
<li>Authentication: {login.authentication}</li>
</ul>
<p>Read more:</p>
<ul>
<li>{link.format(client_settings, "Email client settings: Incoming mail (IMAP)")}</li>
<li>{link.format(protocols, "Email protocols: IMAP (Supported)")}</li>
</ul>
<p>Source: Email client settings › Incoming mail (IMAP)</p>
<p>Best regards,<br>
Sam Lee<br>
Support</p>"""


@pytest.fixture(scope="module")
def agent_email(session_app):
    create_agent(session_app, "console.agent@example.com", name="Sam Lee")
    return "console.agent@example.com"


@pytest.fixture(scope="module")
def api_token(session_app, agent_email):
    result = session_app.test_cli_runner().invoke(args=["create-agent-token", agent_email, "--label", "tests"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.fixture
def agent_client(app, agent_email):
    client = app.test_client()
    assert sign_in(client, agent_email).status_code == 302
    return client


def paste(client, message=PASTED, **fields):
    data = {
        "csrf_token": csrf_token(client, "/agent"),
        "message": message,
        "customer_name": "Anna",
        "signature": SIGNATURE,
        "intent": "",
        **fields,
    }
    return client.post("/agent", data=data)


def textarea(page: str, box: str) -> str:
    match = re.search(rf'<textarea id="{box}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no #{box} on the page"
    return html.unescape(match.group(1))


def test_console_shows_the_intent_answer_alternatives_and_absolute_links(agent_client):
    response = paste(agent_client)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(r'class="intent-label">Incoming mail \(IMAP\) settings</strong> <code>imap_settings</code>', page)
    assert re.search(r'<span class="confidence">\d+%</span>', page)
    # The bot read the question alone: greeting, sign-off and the quoted mail were removed.
    assert '<pre class="message-text">What are the IMAP settings?</pre>' in page
    assert "how can we help you today?" in page and "Removed as quoted mail" in page
    runners_up = re.findall(r'name="intent" value="(\w+)" class="chip">', page.split("<details>", 1)[0])
    assert len(runners_up) == 3 and "imap_settings" not in runners_up
    assert f'href="{HOST}articles/email-client-settings#incoming-mail-imap"' in page
    assert SETTINGS.imap.host in page


def test_console_shows_the_settings_check_beside_the_answer(agent_client):
    message = (
        "Hello,\n\nOutlook: incoming pop.example.net 995 SSL, outgoing port 25 no auth. Why does nothing work?\n\nTom"
    )
    page = paste(agent_client, message=message).get_data(as_text=True)
    aside = page.split('<aside class="console-checker', 1)[1].split("</aside>", 1)[0]
    assert "Settings check" in aside and "verdict-card--error" in aside and "<table" not in aside
    assert SETTINGS.imap.host in aside  # the correct value, read from the settings


def test_console_shows_no_settings_check_for_an_ordinary_question(agent_client):
    assert '<aside class="console-checker' not in paste(agent_client).get_data(as_text=True)


def test_console_replies_in_three_formats_exactly(agent_client):
    page = paste(agent_client).get_data(as_text=True)
    assert textarea(page, "reply-text") == expected_imap_reply("text")
    assert textarea(page, "reply-markdown") == expected_imap_reply("markdown")
    assert textarea(page, "reply-html") == expected_imap_reply("html")
    assert "Missing:" not in page


def test_picking_a_runner_up_rerenders_the_answer_with_that_intent(agent_client):
    page = paste(agent_client).get_data(as_text=True)
    other = re.findall(r'name="intent" value="(\w+)" class="chip">', page)[0]
    page = paste(agent_client, intent=other).get_data(as_text=True)
    assert f"<code>{other}</code>" in page and "chosen by you" in page
    assert f'name="intent" value="{other}">Update reply' in page
    assert 'name="intent" value="imap_settings" class="chip">' in page
    # The POP3 answer is on its own intent; choosing it must give the POP3 policy reply.
    page = paste(agent_client, intent="pop3_enable").get_data(as_text=True)
    assert "POP3 is not supported" in textarea(page, "reply-text")


def test_console_flags_missing_names_with_a_visible_marker(app, agent_client):
    create_agent(app, "nameless@example.com")
    client = app.test_client()
    sign_in(client, "nameless@example.com")
    unsigned = PASTED.replace("Thanks,\nAnna\n", "")
    page = paste(client, message=unsigned, customer_name="", signature="").get_data(as_text=True)
    assert 'class="notice notice--warning missing"' in page
    assert "<strong>customer name</strong>, <strong>agent name</strong>" in page
    text = textarea(page, "reply-text")
    assert text.startswith("Hello [customer name],") and text.endswith("Best regards,\n[agent name]\n")


def test_the_name_the_customer_signed_with_greets_them(agent_client, client, api_token):
    page = paste(agent_client, customer_name="").get_data(as_text=True)  # PASTED ends "Thanks,\nAnna"
    assert textarea(page, "reply-text").startswith("Hello Anna,\n")
    assert "missing" not in page.split('id="composer-title"')[1].split("</section>")[0].lower()
    assert re.search(r'<input[^>]*name="customer_name"[^>]*value="Anna"', page)
    assert "The customer signed as <strong>Anna</strong>" in page
    # The agent's own entry wins; the API does the same.
    assert textarea(paste(agent_client, customer_name="Ms Berg").get_data(as_text=True), "reply-text").startswith(
        "Hello Ms Berg,"
    )
    data = reply_api(client, api_token, message="Which port for SMTP?\n\nThanks, Maria", format="text").get_json()
    assert data["reply"].startswith("Hello Maria,") and data["customer_name"] == "Maria" and data["missing"] == []


def test_console_and_inbox_agree_when_the_bot_would_ask_to_clarify(app, agent_client):
    # A question the shipped model is unsure about between two intents: the widget would ask which.
    question = "which port for imap and smtp"
    asked = app.test_client().post("/api/ask", json={"question": question}).get_json()
    assert asked["clarify"], "pick a question the model asks to clarify"
    page = html.unescape(paste(agent_client, message=question).get_data(as_text=True))
    line = page.split('class="intent-line"')[1].split("</p>")[0]
    choices = [a["intent"] for a in asked["alternatives"]]
    labels = [knowledge(app).base.responses.label(i) for i in choices]
    assert "Not sure" in line and all(label in line for label in labels) and "bot asked to clarify" in line
    assert state(app).events.flush()
    with app.app_context():
        newest = sa.select(Event).where(Event.kind == "ask").order_by(Event.id.desc())
        last = db.session.execute(newest).scalars().first()
    assert last.text == question and last.clarify


def test_console_prefills_the_signature_with_the_agents_name(agent_client):
    page = agent_client.get("/agent").get_data(as_text=True)
    assert re.search(r'<textarea[^>]*name="signature"[^>]*>\s*Sam Lee</textarea>', page)


def test_console_rejects_a_message_with_nothing_left_to_answer(agent_client):
    response = paste(agent_client, message="   ")
    assert response.status_code == 400
    response = paste(agent_client, message="On Mon, 3 Mar 2026, Anna <a@example.com> wrote:\n>\n")
    assert response.status_code == 400 and "nothing is left to answer" in response.get_data(as_text=True)


def reply_api(client, token=None, **payload):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/reply", json=payload, headers=headers)


def test_api_reply_returns_the_ready_reply(client, api_token):
    response = reply_api(client, api_token, message=PASTED, customer_name="Anna", signature=SIGNATURE, format="text")
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert data["reply"] == expected_imap_reply("text")
    assert data["format"] == "text" and data["intent"] == "imap_settings" and 0 < data["confidence"] <= 1
    assert data["missing"] == []
    assert data["sections"] == ["Email client settings › Incoming mail (IMAP)", "Email protocols › IMAP (Supported)"]
    assert len(data["alternatives"]) == 3 and {"intent", "label", "confidence"} == set(data["alternatives"][0])
    assert data["question"] == "What are the IMAP settings?"


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_api_reply_in_markdown_and_html(client, api_token, fmt):
    data = reply_api(
        client, api_token, message=PASTED, customer_name="Anna", signature=SIGNATURE, format=fmt
    ).get_json()
    assert data["reply"] == expected_imap_reply(fmt) and data["format"] == fmt


def test_api_reply_with_a_chosen_intent_and_missing_names(client, api_token):
    data = reply_api(client, api_token, message="what port for smtp", format="text", intent="smtp_auth").get_json()
    assert data["intent"] == "smtp_auth" and "requires authentication" in data["reply"].replace("\n", " ")
    # The token's agent has a name, so only the customer's is missing.
    assert data["missing"] == ["customer_name"] and data["reply"].startswith("Hello [customer name],")
    assert data["reply"].endswith("Best regards,\nSam Lee\n")


def test_api_reply_treats_blank_optional_fields_as_missing(client, api_token):
    blanks = {"customer_name": " ", "signature": "", "intent": ""}
    data = reply_api(client, api_token, message="smtp port", format="text", **blanks).get_json()
    assert data["missing"] == ["customer_name"] and data["intent"] == "smtp_settings"


def test_api_reply_reads_only_the_new_words_of_a_pasted_mail(client, api_token):
    message = (
        "Hello,\n\nCan you turn on POP for my account please?\n\nSent from my iPhone\n\n"
        "-----Original Message-----\nFrom: Support\nSent: Monday\nTo: Anna\nSubject: Re: mail\n\n"
        "What are the SMTP settings?"
    )
    data = reply_api(client, api_token, message=message, format="text").get_json()
    assert data["question"] == "Can you turn on POP for my account please?"
    assert data["intent"] == "pop3_enable" and "POP3 is not supported" in data["reply"]


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"format": "text"}, "'message' is required"),
        ({"message": "", "format": "text"}, "'message' must not be empty"),
        ({"message": "smtp port"}, "'format' must be one of"),
        ({"message": "smtp port", "format": "rtf"}, "'format' must be one of"),
        ({"message": "smtp port", "format": "text", "intent": "nope"}, "unknown intent 'nope'"),
        ({"message": "smtp port", "format": "text", "customer_name": 7}, "'customer_name'"),
        ({"message": "smtp port", "format": "text", "signature": ["x"]}, "'signature'"),
        ({"message": "x" * 20_001, "format": "text"}, "too long"),
        ({"message": "> \n>", "format": "text"}, "nothing is left to answer"),
    ],
)
def test_api_reply_bad_input_is_a_400_with_a_reason(client, api_token, payload, error):
    response = reply_api(client, api_token, **payload)
    assert response.status_code == 400 and error in response.get_json()["error"]


def test_a_long_pasted_thread_fits_although_other_requests_are_limited_to_64_kb(client, agent_client, api_token):
    thread = "Can I use POP3?\n\nOn Mon, 3 Mar 2026, Ünal Öztürk <u@example.com> wrote:\n" + "> öäü ßéè\n" * 1900
    assert len(thread) < 20_000 < len(json.dumps(thread)) and len(json.dumps(thread)) > 64 * 1024
    data = reply_api(client, api_token, message=thread, format="text").get_json()
    assert data["intent"] == "pop3_enable" and data["question"] == "Can I use POP3?"
    assert paste(agent_client, message=thread).status_code == 200
    assert client.post("/api/ask", json={"question": thread}).status_code == 413


def test_api_reply_wants_a_json_object(client, api_token):
    response = client.post("/api/reply", data="message=hi", headers={"Authorization": f"Bearer {api_token}"})
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]


def test_api_reply_is_for_agents_only(client):
    response = reply_api(client, message="smtp port", format="text")
    assert response.status_code == 401 and "sign in" in response.get_json()["error"]
    response = reply_api(client, "agt_not-a-real-token", message="smtp port", format="text")
    assert response.status_code == 401 and response.get_json() == {"error": "the API token is not valid"}
    response = client.post(
        "/api/reply", json={"message": "smtp port", "format": "text"}, headers={"Authorization": "Basic eDp5"}
    )
    assert response.status_code == 401


def test_api_reply_with_a_session_needs_the_csrf_header(agent_client):
    payload = {"message": "smtp port", "format": "markdown"}
    response = agent_client.post("/api/reply", json=payload)
    assert response.status_code == 400 and "CSRF" in response.get_json()["error"]
    response = agent_client.post("/api/reply", json=payload, headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400
    token = csrf_token(agent_client, "/agent")
    response = agent_client.post("/api/reply", json=payload, headers={"X-CSRFToken": token})
    assert response.status_code == 200 and response.get_json()["format"] == "markdown"


def test_the_public_help_center_and_bot_stay_open(client):
    assert client.get("/").status_code == 200
    assert client.post("/api/ask", json={"question": "smtp port"}).status_code == 200


machine_settings = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
any_value = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=60), st.lists(st.integers(), max_size=2)
)


@machine_settings
@given(
    body=st.one_of(
        st.dictionaries(st.sampled_from(["message", "format", "customer_name", "signature", "intent", "x"]), any_value),
        st.fixed_dictionaries(
            {"message": st.text(max_size=300), "format": st.sampled_from(["text", "markdown", "html"])}
        ),
        st.lists(st.integers(), max_size=3),
        st.text(max_size=30),
    )
)
def test_api_reply_never_fails_on_any_json(client, api_token, body):
    response = client.post(
        "/api/reply",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert response.status_code in (200, 400) and response.is_json, response.get_data(as_text=True)
