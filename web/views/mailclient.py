"""Mail-client set-up: the settings checker, the setup guide, the files mail apps fetch, and the DNS records page.

The work is in the mailclient package; these views read the request and render its results.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request, url_for

from mailclient import autoconfig
from mailclient.checker import CheckInputError
from mailclient.checkinput import check_form, safe_echo
from mailclient.clientsetup import CLIENT_NAMES, SetupError, parse_client, setup_guide
from web.answering import knowledge_args, public_url
from web.errors import InputError
from web.state import knowledge

mail_clients = Blueprint("mailclient", __name__)


XML_CONTENT_TYPE = "text/xml; charset=utf-8"


MOBILECONFIG_CONTENT_TYPE = "application/x-apple-aspen-config"


AUTODISCOVER_MAX_BYTES = 16 * 1024


SETTINGS_ARTICLE_SLUG = "email-client-settings"


@mail_clients.route("/check", methods=["GET", "POST"])
def check_page():
    """Show the settings checker; on POST, check the form's fields or its pasted description."""
    result = error = None
    if request.method == "POST":
        try:
            result = check_form(request.form, *knowledge_args(), current_app.config["CHECK_MAX_CHARS"])
        except CheckInputError as exc:
            error = str(exc)
    form = safe_echo(request.form)
    if result is not None and result.description is not None:
        form["description"] = result.description
    page = render_template(
        "mailclient/check.html", result=result, error=error, form=form, max_chars=current_app.config["CHECK_MAX_CHARS"]
    )
    return page, 400 if error else 200


@mail_clients.get("/.well-known/autoconfig/mail/config-v1.1.xml")
@mail_clients.get("/mail/config-v1.1.xml")  # registered first, so url_for gives this one
def autoconfig_file():
    """Serve the Thunderbird autoconfig file; the same for every ``?emailaddress=`` (it says %EMAILADDRESS%)."""
    # This file is publicly cached: its link must not come from the request's Host header.
    documentation = public_url(url_for("pages.article", slug=SETTINGS_ARTICLE_SLUG))
    body = autoconfig.thunderbird_config(knowledge().base.settings, documentation_url=documentation)
    response = Response(body, content_type=XML_CONTENT_TYPE)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["AUTOCONFIG_CACHE_SECONDS"]
    return response


@mail_clients.get("/setup")
def setup_page():
    """Show "Set up my mail app": pick an app, enter an address, get the file or the values."""
    address = request.args.get("address", "").strip()
    client = request.args.get("client", "")
    guide = error = None
    if address or client:
        settings, library, article_url = knowledge_args()
        try:
            guide = setup_guide(settings, library, address, parse_client(client), article_url)
        except SetupError as exc:
            error = str(exc)
    page = render_template(
        "mailclient/setup.html", guide=guide, error=error, address=address, client=client, clients=CLIENT_NAMES
    )
    return page, 400 if error else 200


@mail_clients.get("/setup/profile.mobileconfig")
def apple_profile_download():
    """Download the Apple configuration profile for ``?address=`` (no password in it)."""
    settings = knowledge().base.settings
    try:
        body = autoconfig.apple_profile(settings, request.args.get("address", ""))
    except autoconfig.AddressError as exc:
        raise InputError(str(exc)) from None
    filename = autoconfig.profile_filename(settings)
    return Response(
        body,
        content_type=MOBILECONFIG_CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@mail_clients.get("/operator/dns-records")
def dns_records_page():
    """Show operators the DNS SRV records and the names mail apps look up."""
    settings = knowledge().base.settings
    return render_template(
        "mailclient/dns.html",
        records=autoconfig.srv_records(settings),
        domain=settings.domain,
        ttl=autoconfig.SRV_TTL_SECONDS,
    )


@mail_clients.post("/autodiscover/autodiscover.xml")
@mail_clients.post("/Autodiscover/Autodiscover.xml")
def autodiscover():
    """Answer Outlook's Autodiscover (POX) request, best effort: current Outlook often skips it for IMAP."""
    body = request.stream.read(AUTODISCOVER_MAX_BYTES + 1)
    try:
        if len(body) > AUTODISCOVER_MAX_BYTES:
            raise autoconfig.AutodiscoverError("the request is too large")
        address = autoconfig.autodiscover_address(body)
    except autoconfig.AutodiscoverError as exc:
        return Response(autoconfig.autodiscover_error(str(exc)), 400, content_type=XML_CONTENT_TYPE)
    return Response(autoconfig.autodiscover_response(knowledge().base.settings, address), content_type=XML_CONTENT_TYPE)
