"""Compose a help center of plain-English articles for the search benchmark.

There is no corpus to download, so the articles are put together from parts: topics
(email, accounts, billing, devices, ...), the things each topic is about, what people
do to those things, the platforms they use, and many sentence templates for each kind
of section (steps, troubleshooting, questions and answers, limits, tips). One seed
gives the same articles every time.

Each article is Markdown with the front matter the loader expects, an intro paragraph
and 4-8 sections under ``##`` headings, some with ``###`` subsections, lists and
paragraphs, and about 300-600 words.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# --- vocabulary ---------------------------------------------------------------------


@dataclass(frozen=True)
class Verb:
    """An action in its three forms: "set up", "setting up", "set up"."""

    base: str
    ing: str
    past: str


def _verb(spec: str) -> Verb:
    base, ing, past = spec.split("|")
    return Verb(base, ing, past)


VERBS = {
    v.base: v
    for v in map(
        _verb,
        [
            "set up|setting up|set up",
            "change|changing|changed",
            "reset|resetting|reset",
            "delete|deleting|deleted",
            "restore|restoring|restored",
            "share|sharing|shared",
            "export|exporting|exported",
            "import|importing|imported",
            "turn on|turning on|turned on",
            "turn off|turning off|turned off",
            "sync|syncing|synced",
            "update|updating|updated",
            "recover|recovering|recovered",
            "add|adding|added",
            "remove|removing|removed",
            "rename|renaming|renamed",
            "move|moving|moved",
            "download|downloading|downloaded",
            "print|printing|printed",
            "connect|connecting|connected",
            "verify|verifying|verified",
            "cancel|cancelling|cancelled",
            "renew|renewing|renewed",
            "block|blocking|blocked",
            "unlock|unlocking|unlocked",
            "schedule|scheduling|scheduled",
            "forward|forwarding|forwarded",
            "archive|archiving|archived",
            "back up|backing up|backed up",
            "configure|configuring|configured",
            "transfer|transferring|transferred",
            "edit|editing|edited",
            "find|finding|found",
            "upgrade|upgrading|upgraded",
            "pause|pausing|paused",
            "replace|replacing|replaced",
            "approve|approving|approved",
            "report|reporting|reported",
            "install|installing|installed",
            "record|recording|recorded",
            "upload|uploading|uploaded",
            "merge|merging|merged",
            "pair|pairing|paired",
            "disconnect|disconnecting|disconnected",
            "invite|inviting|invited",
            "review|reviewing|reviewed",
        ],
    )
}


@dataclass(frozen=True)
class Thing:
    """What an article is about, with what can be done to it and what goes wrong with it."""

    name: str
    plural: str
    verbs: tuple[str, ...]
    problems: tuple[str, ...]


def _plural(name: str) -> str:
    head, _, last = name.rpartition(" ")
    if last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head} {last}".strip()


def _thing(spec: str) -> Thing:
    """Parse ``name[*] : verbs : problem; problem``; a ``*`` marks a word with no plural."""
    name, verbs, problems = (part.strip() for part in spec.split(":"))
    uncountable = name.endswith("*")
    name = name.rstrip("*")
    return Thing(
        name=name,
        plural=name if uncountable else _plural(name),
        verbs=tuple(v.strip() for v in verbs.split(",")),
        problems=tuple(p.strip() for p in problems.split(";")),
    )


@dataclass(frozen=True)
class Topic:
    """A help-center category: its things, its menu, who looks after it, what can go wrong."""

    category: str
    tag: str
    app: str
    menu: str
    owner: str
    things: tuple[Thing, ...]
    errors: tuple[str, ...]
    words: tuple[str, ...]


def _topic(category, tag, app, menu, owner, things, errors, words) -> Topic:
    return Topic(category, tag, app, menu, owner, tuple(map(_thing, things)), tuple(errors), tuple(words.split()))


TOPICS = (
    _topic(
        "Email",
        "email",
        "the Mail app",
        "Mail",
        "mail administrator",
        [
            "email signature: change, add, delete, edit, update : does not appear in replies; shows the wrong "
            "picture; looks different on phones; is cut off",
            "automatic reply: set up, turn on, turn off, edit, schedule : is sent twice; does not stop after the end "
            "date; is not sent to people outside the company",
            "forwarding rule: set up, delete, edit, turn off, pause : forwards only some messages; stopped working; "
            "sends copies to the wrong address",
            "spam filter: configure, update, turn off, review : moves real messages to junk; lets phishing through; "
            "blocks a trusted sender",
            "mail folder: add, rename, delete, move, archive, share : disappeared; shows the wrong unread count; "
            "is empty on the phone",
            "attachment: download, forward, print, find, remove : is too large to send; will not open; is blocked "
            "for security reasons",
            "email alias: add, remove, change, verify : does not receive mail; cannot be used as the sender; "
            "is already taken",
            "shared mailbox: set up, share, connect, remove : does not show in the folder list; sends from the "
            "wrong address; is read only",
            "blocked sender list: edit, update, export, import, review : still lets messages through; blocks the "
            "whole domain; has too many entries",
            "read receipt: turn on, turn off, configure : is never returned; is sent without asking; shows the "
            "wrong time",
            "mailing list: set up, delete, rename, archive, review : bounces messages; sends duplicates; "
            "rejects new members",
            "inbox rule: set up, edit, delete, pause, review : runs on the wrong messages; runs twice; "
            "does not run on the phone",
        ],
        [
            "Message could not be delivered",
            "Mailbox is full",
            "Recipient address rejected",
            "Attachment exceeds the size limit",
            "Sender is not allowed to send on behalf of this address",
        ],
        "inbox sender recipient message thread reply draft outbox conversation subject headers bounce "
        "delivery quota junk newsletter domain",
    ),
    _topic(
        "Accounts",
        "account",
        "the Account Center",
        "Account",
        "account owner",
        [
            "password: change, reset, recover, update : is not accepted; expired; was changed without your "
            "knowledge; does not meet the requirements",
            "username: change, find, recover, verify : is already taken; is not recognised; contains a character "
            "that is not allowed",
            "profile photo: change, add, remove, update : looks blurry; does not update everywhere; is rotated",
            "display name: change, edit, update : shows the old name; is cut off in messages; cannot be saved",
            "recovery email address: add, change, verify, remove : never receives the code; is marked as invalid; "
            "belongs to an old job",
            "recovery phone number: add, change, verify, remove : does not receive text messages; is shown as "
            "unverified; belongs to someone else",
            "account: delete, recover, unlock, transfer, verify : is locked; was suspended; shows activity you "
            "do not recognise",
            "language setting: change, update, reset : switches back after a restart; does not apply to emails; "
            "is missing your language",
            "connected app: connect, disconnect, review, remove, approve : keeps asking for access; stopped "
            "syncing; has more access than it needs",
            "notification preference: change, update, turn off, review : is ignored; sends too many emails; "
            "resets after an update",
        ],
        [
            "The password you entered is incorrect",
            "This account has been locked",
            "Verification code expired",
            "Too many attempts, try again later",
            "This username is not available",
        ],
        "sign-in login profile identity credentials owner security personal details preferences session verification",
    ),
    _topic(
        "Billing",
        "billing",
        "the Billing portal",
        "Billing",
        "billing administrator",
        [
            "invoice: download, find, print, forward, review : shows the wrong amount; is missing a tax number; "
            "was sent to an old address",
            "payment method: add, change, remove, update, verify : was declined; expired; is charged twice",
            "subscription: cancel, renew, upgrade, pause, change : renewed without warning; shows the wrong "
            "plan; cannot be cancelled online",
            "plan: change, upgrade, review, cancel : does not include a feature you need; costs more than "
            "expected; shows the wrong number of seats",
            "refund: find, review, approve, cancel : has not arrived; is smaller than expected; went to an old card",
            "receipt: download, find, print, forward : is missing; shows the wrong company name; cannot be opened",
            "billing address: change, update, add, verify : is rejected at checkout; appears on the wrong invoice; "
            "is in the wrong country",
            "tax ID: add, change, remove, verify : is not accepted; is missing from invoices; was applied to the "
            "wrong account",
            "promo code: add, remove, verify : is not accepted; expired; was applied to the wrong plan",
            "free trial: cancel, upgrade, renew, find : ended early; charged the card; cannot be extended",
        ],
        [
            "Your card was declined",
            "Payment could not be processed",
            "This promo code has expired",
            "The billing address does not match the card",
            "Your subscription is past due",
        ],
        "charge payment card bank currency price seats monthly yearly discount statement balance checkout "
        "transaction overdue",
    ),
    _topic(
        "Devices",
        "devices",
        "the Device Manager",
        "Devices",
        "IT support team",
        [
            "laptop: set up, update, reset, connect, back up : runs slowly; does not start; will not charge; "
            "gets very hot",
            "printer: add, connect, remove, configure, update : shows as offline; prints blank pages; jams "
            "constantly; is not found on the network",
            "docking station: connect, update, disconnect, configure : does not detect the monitor; stops "
            "charging the laptop; disconnects at random",
            "external monitor: connect, configure, disconnect : shows no picture; flickers; has the wrong resolution",
            "wireless keyboard: pair, connect, disconnect, replace : types the wrong characters; lags; "
            "keeps disconnecting",
            "webcam: configure, update, turn on, turn off : shows a black image; is used by another app; looks dark",
            "headset: pair, connect, configure, disconnect : has no sound; echoes; is not detected",
            "tablet: set up, reset, update, back up : will not turn on; is stuck on the logo; runs out of storage",
            "USB drive: connect, back up, move, delete : is not recognised; is read only; is blocked by policy",
            "desk phone: set up, configure, transfer, forward : has no dial tone; shows the wrong extension; "
            "drops calls",
        ],
        [
            "Device not recognised",
            "Driver update failed",
            "The printer is offline",
            "Not enough storage on this device",
            "This device is not supported",
        ],
        "hardware driver cable battery charger port bluetooth firmware screen restart power warranty model serial",
    ),
    _topic(
        "Security",
        "security",
        "the Security Center",
        "Security",
        "security team",
        [
            "two-step verification*: turn on, turn off, set up, change, reset : asks for a code every time; "
            "sends codes to an old phone; does not accept the code",
            "security key: add, remove, replace, verify : is not detected; stopped working; was lost",
            "recovery code: download, print, find, replace : does not work; was already used; is lost",
            "trusted device: add, remove, review, replace : keeps asking for verification; is listed twice; was stolen",
            "login alert: turn on, turn off, review, report : shows a place you have never been; is sent for "
            "every sign-in; arrives late",
            "phishing email: report, block, delete, forward : looks like it came from a colleague; asks for "
            "your password; contains a strange link",
            "app password: add, delete, change, find : is rejected; stopped working after a password change; "
            "was shared by mistake",
            "active session: review, remove, find : shows a device you do not own; will not sign out; "
            "expired too early",
            "single sign-on*: set up, configure, turn on, verify : loops back to the sign-in page; rejects a "
            "valid user; shows a certificate error",
            "encryption setting: turn on, change, verify, review : slows the device down; blocks a file; "
            "is reported as off",
        ],
        [
            "Suspicious sign-in blocked",
            "The security key was not recognised",
            "This code has already been used",
            "Your session has expired",
            "Access denied by your organisation's policy",
        ],
        "threat attack scam fraud breach malware virus certificate encryption verification alert risk "
        "compromised attacker",
    ),
    _topic(
        "Calendar",
        "calendar",
        "the Calendar app",
        "Calendar",
        "team assistant",
        [
            "shared calendar: share, add, remove, sync, configure : is not syncing; shows only free and busy "
            "times; does not appear on the phone",
            "meeting invitation: forward, cancel, update, approve : is missing from the calendar; shows the "
            "wrong time; was sent from the wrong account",
            "recurring meeting: schedule, edit, cancel, move : lost its exceptions; ends too early; shows "
            "twice on the same day",
            "reminder: set up, change, turn off, delete : rings at the wrong time; never arrives; repeats "
            "after it is dismissed",
            "room booking: schedule, cancel, change, review : is declined automatically; shows the wrong room; "
            "overlaps another booking",
            "working-hours setting: change, update, configure : shows the wrong time zone; is ignored by "
            "colleagues; resets each week",
            "out-of-office event: schedule, edit, delete : does not decline meetings; is visible to everyone; "
            "does not show on the team calendar",
            "calendar event: add, move, delete, restore, share : disappeared; shows in the wrong time zone; "
            "cannot be edited",
            "calendar subscription: add, remove, sync, update : stopped updating; shows old events; "
            "duplicates every entry",
        ],
        [
            "This event could not be saved",
            "The organiser has cancelled this meeting",
            "You do not have permission to edit this calendar",
            "Time zone not recognised",
            "The room is not available",
        ],
        "meeting schedule agenda attendee organiser availability timezone weekly daily invite holiday appointment slot",
    ),
    _topic(
        "Storage",
        "storage",
        "the Files app",
        "Files",
        "workspace administrator",
        [
            "shared folder: share, move, rename, delete, restore : is missing for some people; shows an old "
            "version; cannot be opened",
            "file: upload, download, restore, move, share, delete : will not upload; is locked for editing; "
            "shows a sync conflict",
            "backup: set up, restore, schedule, pause, verify : did not run last night; is incomplete; takes too long",
            "storage quota: upgrade, review, find : is almost full; counts deleted files; shows the wrong amount",
            "version history*: find, restore, review, delete : is missing older versions; shows the wrong "
            "author; is not available for this file",
            "trash folder: find, restore, delete, review : empties too soon; does not show a deleted file; "
            "uses too much space",
            "shared link: add, change, delete, turn off : opens for the wrong people; expired too soon; "
            "asks for a sign-in",
            "sync client: install, update, pause, configure, disconnect : stopped syncing; uses too much "
            "bandwidth; shows red icons",
            "photo library: back up, sync, move, download : has duplicate photos; is missing recent pictures; "
            "fills the phone",
        ],
        [
            "Upload failed",
            "You are out of storage",
            "This file is locked by another user",
            "The link has expired",
            "Sync paused because of a conflict",
        ],
        "upload download folder document drive space quota conflict version sharing permission owner gigabytes sync",
    ),
    _topic(
        "Mobile apps",
        "mobile",
        "the mobile app",
        "App settings",
        "mobile support team",
        [
            "mobile app: install, update, reset, remove, configure : crashes on start; drains the battery; "
            "will not sign in",
            "push notification: turn on, turn off, configure, review : never arrives; arrives late; shows "
            "the wrong account",
            "app update: install, pause, find, review : fails to install; removed a feature; is not offered",
            "offline mode*: turn on, turn off, configure, sync : does not keep recent messages; uses too much "
            "storage; is greyed out",
            "home screen widget: add, remove, configure, update : shows old information; is blank; does not refresh",
            "fingerprint login*: set up, turn on, turn off, reset : stopped working; is not offered; asks for "
            "the password every time",
            "location permission: change, turn off, review : is requested every time; is ignored; drains the battery",
            "mobile data setting: change, turn off, configure, review : uses too much data; blocks downloads "
            "over cellular; resets after an update",
        ],
        [
            "The app has stopped",
            "No internet connection",
            "This version is no longer supported",
            "Permission denied",
            "Sign-in failed on this device",
        ],
        "phone smartphone iphone android ipad tablet store battery cellular touch screen swipe tap permissions",
    ),
    _topic(
        "Network",
        "network",
        "the Connect app",
        "Network",
        "network team",
        [
            "Wi-Fi connection: connect, disconnect, configure, reset : keeps dropping; is slow in meeting rooms; "
            "asks for a password again",
            "VPN connection: set up, connect, disconnect, configure, update : will not connect; drops every few "
            "minutes; blocks local printers",
            "guest network: set up, share, turn off, configure : does not load any pages; asks guests to sign "
            "in twice; is too slow",
            "proxy setting: change, configure, turn off, review : blocks a website; breaks the mail app; "
            "is reset at every restart",
            "network drive: connect, disconnect, rename, configure : is not available; shows as offline; "
            "asks for credentials again",
            "router: reset, update, configure, replace : restarts on its own; has no internet; blinks orange",
            "firewall rule: add, edit, delete, review : blocks a needed app; lets unknown traffic through; "
            "is not applied",
        ],
        [
            "Unable to connect to the network",
            "The VPN server did not respond",
            "DNS lookup failed",
            "Certificate not trusted",
            "Connection timed out",
        ],
        "internet bandwidth signal latency address dns gateway hotspot ethernet cable speed outage access point",
    ),
    _topic(
        "Video meetings",
        "meetings",
        "the Meetings app",
        "Meetings",
        "meeting host",
        [
            "video meeting: schedule, cancel, record, share, configure : will not start; freezes; has no sound",
            "meeting recording: find, download, share, delete, record : is missing; has no audio; stopped halfway",
            "screen share*: turn on, turn off, configure, pause : shows a black screen; is blurry; shows the "
            "wrong window",
            "virtual background: add, change, remove, turn off : cuts off your head; is not available; "
            "makes the video lag",
            "meeting link: share, change, find, delete : does not open; lets in uninvited people; expired",
            "waiting room: turn on, turn off, configure, review : keeps the host outside; admits everyone; "
            "does not notify the host",
            "live caption: turn on, turn off, configure, download : shows the wrong language; lags behind; "
            "is missing from the recording",
        ],
        [
            "The meeting has ended",
            "Your camera is being used by another app",
            "The host has not joined yet",
            "Recording is disabled by your administrator",
            "Poor network connection",
        ],
        "camera microphone audio video host participant call speaker mute raise hand chat webinar attendee breakout",
    ),
    _topic(
        "Contacts",
        "contacts",
        "the Contacts app",
        "Contacts",
        "office manager",
        [
            "contact: add, edit, delete, merge, export, import : appears twice; lost its phone number; "
            "shows an old photo",
            "contact group: add, rename, delete, share, edit : is missing members; cannot be used in email; "
            "sends to the wrong people",
            "address book: export, import, sync, back up, share : is empty on a new phone; has duplicates; "
            "does not sync with the web",
            "company directory: find, review, update, sync : shows people who left; is missing a department; "
            "has the wrong job titles",
            "duplicate contact: find, merge, delete, review : comes back after merging; is created on every "
            "sync; cannot be merged",
        ],
        [
            "Contact could not be saved",
            "Import file not recognised",
            "Too many contacts in one group",
            "This contact is managed by your organisation",
            "Merge failed",
        ],
        "name phone number address company colleague directory vcard csv group list label birthday",
    ),
    _topic(
        "Administration",
        "admin",
        "the admin console",
        "Admin console",
        "administrator",
        [
            "user account: add, remove, unlock, transfer, rename, restore : cannot sign in; has the wrong "
            "licence; still receives mail after leaving",
            "user group: add, delete, rename, configure, review : gives too much access; is missing new staff; "
            "does not sync from the directory",
            "licence: add, remove, transfer, renew, review : is not assigned; expired; counts a deleted user",
            "custom domain: add, verify, remove, configure : fails verification; stops receiving mail; shows "
            "a certificate warning",
            "audit log: export, review, find, download : is missing events; shows the wrong time; is too large "
            "to download",
            "retention policy: set up, change, review, delete : deletes mail too early; does not apply to "
            "shared mailboxes; keeps files forever",
            "admin role: add, remove, review, change : gives too many rights; cannot be removed; is missing "
            "a permission",
            "data export: schedule, download, cancel, review : fails halfway; is missing mailboxes; takes days",
        ],
        [
            "You need administrator rights for this",
            "Domain verification failed",
            "No licences available",
            "This policy conflicts with another policy",
            "Export failed",
        ],
        "organisation tenant directory policy compliance role permission onboarding offboarding staff "
        "employee department audit",
    ),
    _topic(
        "Chat",
        "chat",
        "the Chat app",
        "Chat",
        "team lead",
        [
            "chat channel: add, rename, archive, delete, share : is missing from the sidebar; shows old "
            "messages; does not notify members",
            "direct message: forward, delete, edit, find, report : was not delivered; disappeared; shows as unread",
            "status message: change, update, delete, schedule : does not clear; shows to the wrong people; is cut off",
            "chat notification: turn on, turn off, configure, pause : arrives for every message; never "
            "arrives; plays no sound",
            "message history*: export, find, delete, review : is missing older messages; cannot be searched; "
            "shows the wrong dates",
            "chat bot: add, remove, configure, approve : does not answer; posts too often; asks for too many "
            "permissions",
        ],
        [
            "Message not sent",
            "You were removed from this channel",
            "This channel has been archived",
            "File type not allowed",
            "You have been muted by a moderator",
        ],
        "channel thread mention emoji reaction message conversation team member moderator typing presence",
    ),
    _topic(
        "Documents",
        "documents",
        "the Docs editor",
        "Docs",
        "document owner",
        [
            "document: share, export, restore, rename, print, delete : will not open; lost recent changes; "
            "shows garbled characters",
            "document template: add, edit, delete, share, update : uses the old logo; is missing for the team; "
            "breaks the layout",
            "comment: add, delete, edit, find, forward : disappeared; notifies the wrong person; cannot be resolved",
            "spreadsheet: import, export, share, restore, print : shows wrong totals; is very slow; breaks "
            "formulas after export",
            "presentation: export, share, print, record, restore : looks different when presenting; loses "
            "fonts; will not play videos",
            "PDF export: download, change, configure, review : cuts off pages; loses links; is too large",
        ],
        [
            "This document is read only",
            "The file is too large to open",
            "Changes could not be saved",
            "You need access",
            "Export failed",
        ],
        "page paragraph heading font layout margin table chart formula slide template comment suggestion editor",
    ),
)

# Topic-specific sentences: they carry most of each topic's own vocabulary.
FACTS = {
    "Email": (
        "Messages in the junk folder are deleted automatically after {period}.",
        "Each mailbox can receive attachments of up to {size}; larger files bounce back to the sender.",
        "Replies keep the original subject line, so a whole conversation stays in one thread.",
        "Drafts are saved every few seconds, even when you lose the connection.",
        "Newsletters and mailing lists can be sorted into their own folder with an inbox rule.",
        "A delivery report tells you whether a message reached the recipient's server.",
        "Messages sent from an alias still arrive in your main inbox.",
        "The sender's address is checked against the blocked sender list before a message is delivered.",
        "Images in messages from unknown senders are hidden until you choose to show them.",
        "Bounced messages usually explain in the first few lines why delivery failed.",
    ),
    "Accounts": (
        "A strong password is at least twelve characters long and mixes words, numbers and symbols.",
        "Your display name is what recipients see next to your address.",
        "We lock an account for fifteen minutes after ten wrong passwords in a row.",
        "Recovery options let you get back into your account if you forget your password.",
        "You can sign in with your username or with your full email address.",
        "Personal details such as your birthday are only visible to you.",
        "Connected apps can read only the data you approved when you first connected them.",
        "Closing an account permanently deletes its mail, files and contacts after {period}.",
        "Sign-in history shows the browser, the approximate location and the time of every sign-in.",
    ),
    "Billing": (
        "Invoices are issued on the first working day of each month and sent to the billing contact.",
        "Prices are shown in your local currency where we support it; otherwise they are in euros.",
        "Monthly plans renew every month, and yearly plans renew on the date you first subscribed.",
        "When you add seats in the middle of a billing period, you pay only for the days that remain.",
        "Refunds go back to the card or bank account that paid, and banks take up to ten days to show them.",
        "A failed payment is retried three times over one week before the subscription is paused.",
        "Discounts from a promo code apply to the first billing period only, unless the offer says otherwise.",
        "Tax is added at checkout based on your billing address and your tax ID.",
        "Your statement shows each charge with a reference number you can quote to your bank.",
    ),
    "Devices": (
        "Company laptops receive driver and firmware updates automatically every Tuesday night.",
        "Keep the charger plugged in while an update installs; a flat battery can interrupt it.",
        "Bluetooth devices work best within ten metres and without walls in between.",
        "The serial number is printed on a label underneath the device and in the About screen.",
        "Most docking stations need a USB-C cable that supports video and charging.",
        "Printers on the office network appear automatically when you are connected to the company Wi-Fi.",
        "Devices older than five years are replaced under the hardware refresh programme.",
        "Warranty repairs are arranged by the IT support team; do not open the device yourself.",
        "A restart clears most temporary faults and takes less time than troubleshooting.",
    ),
    "Security": (
        "Attackers often pretend to be a colleague, a bank or a delivery company.",
        "A security key is the strongest way to protect your account against phishing.",
        "Each recovery code works once; print them and keep them somewhere safe.",
        "We will never ask you to read a verification code to someone on the phone.",
        "Links in suspicious messages can lead to fake sign-in pages that look exactly like ours.",
        "Devices without a screen lock are blocked from company data.",
        "Malware can hide in attachments with double file extensions such as invoice.pdf.exe.",
        "The security team reviews every phishing report within one working day.",
        "A login alert lists the device, browser and approximate location of the sign-in.",
    ),
    "Calendar": (
        "Meeting times are shown in your own time zone, even when the organiser is abroad.",
        "Attendees can propose a new time without declining the invitation.",
        "Free and busy information is visible to everyone in your organisation by default.",
        "Rooms with a screen or a video system are marked with a camera icon.",
        "Holidays for your country can be added as a separate calendar.",
        "Recurring meetings can repeat daily, weekly, monthly or on a custom schedule.",
        "Reminders are sent to the phone and the desktop at the same time.",
        "The organiser can see who accepted, declined or has not answered yet.",
        "Events imported from another calendar keep their original time zone.",
    ),
    "Storage": (
        "Files you delete stay in the trash for {period} before they are removed for good.",
        "Up to 100 earlier versions of each document are kept in the version history.",
        "Shared folders count against the storage of the person who owns them.",
        "Sync conflicts happen when the same file is changed on two devices while one is offline.",
        "Uploads continue in the background when you close the browser tab.",
        "Photos and videos are stored in full resolution unless you choose to save space.",
        "Links can be set to expire after a date or to require a password.",
        "Folders with more than 10,000 files sync more slowly on older computers.",
        "The storage meter updates within an hour after you delete large files.",
    ),
    "Mobile apps": (
        "The app supports the two most recent versions of Android and iOS.",
        "Notifications can be silenced for chosen hours without turning them off completely.",
        "Offline mode keeps the last two weeks of messages and any files you mark as available offline.",
        "App updates are published every two weeks through the App Store and Google Play.",
        "Fingerprint and face sign-in use the security built into your phone; we never see your fingerprint.",
        "Background refresh must be allowed, or notifications arrive late.",
        "Battery saver modes on some phones stop the app from syncing while the screen is off.",
        "Widgets refresh about every fifteen minutes to save battery.",
        "On cellular data, large attachments download only when you tap them.",
    ),
    "Network": (
        "The company Wi-Fi uses your normal username and password; the guest network uses a daily code.",
        "The VPN is needed only for internal tools; email and files work without it.",
        "Speed drops when many people share one access point, for example in a large meeting room.",
        "If a website will not load, try its address on your phone's cellular connection to rule out the network.",
        "Network drives reconnect automatically when the VPN connects.",
        "Guest access expires at midnight and must be requested again the next day.",
        "Firewall changes are reviewed by the network team and take effect within one working day.",
        "A restart of the router fixes most home connection problems.",
        "DNS problems make websites fail to load even though the connection itself works.",
    ),
    "Video meetings": (
        "Meetings can have up to 300 participants; webinars can have up to 3,000 attendees.",
        "Recordings are saved to the organiser's storage and shared with every invited participant.",
        "Participants can raise a hand, react with emoji and chat without interrupting the speaker.",
        "Breakout rooms let the host split a large meeting into smaller groups.",
        "Live captions are available in twelve languages and can be saved with the recording.",
        "Use headphones to stop your microphone from picking up the speaker and causing echo.",
        "The host can mute everyone who joins late.",
        "A wired connection gives a steadier picture than Wi-Fi in busy offices.",
        "Guests without an account can join from the browser with the meeting link.",
    ),
    "Contacts": (
        "Contacts sync between the phone, the desktop and the web within a few minutes.",
        "You can import contacts from a CSV file or a vCard file.",
        "The company directory is managed by human resources and updates every night.",
        "Contact groups make it easy to email the same people again and again.",
        "Merged contacts keep every phone number and address from both entries.",
        "Birthdays from your contacts can appear in your calendar.",
        "Labels help you sort contacts without creating separate groups.",
        "Deleted contacts can be restored for {period}.",
    ),
    "Administration": (
        "New employees get an account as soon as human resources completes their onboarding record.",
        "Licences are freed when a user is deleted and can be assigned to someone else straight away.",
        "Audit log entries are kept for one year and can be exported as a CSV file.",
        "Retention policies apply to mail, chat and files, each with its own period.",
        "Admin roles can be limited to one department or one country.",
        "Domain verification requires a DNS record that proves you own the domain.",
        "Offboarding a user transfers their files to their manager before the account is removed.",
        "Compliance exports include every mailbox and chat in the date range you choose.",
        "Directory sync runs every hour and copies new staff, departments and job titles.",
    ),
    "Chat": (
        "Mention someone with the at sign to send them a notification.",
        "Threads keep replies together so the channel stays easy to read.",
        "Archived channels stay searchable, but nobody can post in them.",
        "Your status shows whether you are available, busy or away.",
        "Messages can be edited for 24 hours after they are sent.",
        "Channel moderators can remove messages and mute members who break the rules.",
        "Files shared in chat are stored in the channel's shared folder.",
        "Emoji reactions are a quick way to answer without a new message.",
    ),
    "Documents": (
        "Several people can edit a document at the same time and see each other's cursors.",
        "Suggestions mode lets you propose changes that the owner can accept or reject.",
        "Templates keep the company fonts, colours and logo consistent.",
        "Spreadsheets recalculate formulas automatically when data changes.",
        "Presentations can be shown full screen with speaker notes on a second display.",
        "Exported PDF files keep headings, links and page numbers.",
        "Comments notify the person you mention and can be resolved when the question is answered.",
        "Tables, charts and images can be copied between documents without losing their layout.",
        "Documents are saved automatically; there is no save button.",
    ),
}

PLATFORMS = (
    ("on the web", "Web"),
    ("on Windows", "Windows"),
    ("on a Mac", "Mac"),
    ("on Android", "Android"),
    ("on an iPhone", "iPhone"),
    ("on an iPad", "iPad"),
    ("on Linux", "Linux"),
    ("in the desktop app", "Desktop app"),
)
BUTTONS = ("Save", "Apply", "Done", "Confirm", "Continue", "Next", "Update", "OK")
TIMES = (
    "a few seconds",
    "a minute or two",
    "up to five minutes",
    "about ten minutes",
    "up to an hour",
    "a few hours",
    "up to 24 hours",
    "one working day",
)
PERIODS = ("7 days", "14 days", "30 days", "60 days", "90 days", "six months", "a year")
NUMBERS = ("3", "5", "10", "20", "25", "50", "100", "250", "500", "1,000")
SIZES = ("10 MB", "25 MB", "50 MB", "100 MB", "2 GB", "15 GB", "100 GB", "1 TB")
PEOPLE = (
    "a colleague",
    "your manager",
    "a guest",
    "a new team member",
    "a customer",
    "an assistant",
    "a contractor",
    "someone outside your company",
)

# --- sentence templates ---------------------------------------------------------------
# Slots: {thing} {things} {Thing} {verb} {verbing} {verbed} {Verb} {Verbing} {app} {menu} {owner}
# {platform} {device} {problem} {other} {others} {button} {time} {period} {number} {size} {person}
# {word} {error} {category}

INTRO = (
    "This article explains how to {verb} your {thing} {platform}.",
    "You can {verb} your {thing} at any time from {app}.",
    "Most people {verb} their {thing} when they start a new job or move to a new device.",
    "If your {thing} {problem}, the steps below usually fix it in {time}.",
    "{Verbing} your {thing} takes only a few steps, and you do not need to contact support.",
    "Your {thing} works together with your {other}, so changes to one can affect the other.",
    "Some options described here are only available on paid plans.",
    "The steps are the same for personal and work accounts unless a note says otherwise.",
    "Read this before you {verb} your {thing} for the first time.",
    "Here you will find the steps for {device}, plus answers to the questions we are asked most often.",
    "We recently changed where this option lives, so older guides may point to the wrong menu.",
    "Changes you make {platform} are copied to your other devices within {time}.",
)

FILLER = (
    "You can check this under {menu}.",
    "The change takes effect within {time}.",
    "If you share your device with {person}, sign out when you are done.",
    "Your {other} is not affected by this change.",
    "We keep a copy for {period}, so you can undo the change if you need to.",
    "Some settings are managed by your {owner}, and you may not be able to change them yourself.",
    "If an option is greyed out, your organisation has locked it.",
    "The exact wording of the menus can differ slightly {platform}.",
    "Make sure you are signed in to the right account before you start.",
    "You will get an email to confirm the change.",
    "Versions of {app} older than {version} do not show this option, so update the app first.",
    "Everyone who works with your {thing} sees the change the next time they open it.",
    "Nothing is deleted until you confirm.",
    "You can repeat these steps as often as you like.",
    "The same steps work for your {other}.",
    "If you manage several accounts, repeat this for each one.",
    "This is a common request, and it is quick to do.",
    "Keep a note of what you changed in case you need to undo it later.",
    "Your {thing} is stored securely and is never shared without your permission.",
    "On a slow connection the page may take a little longer to load.",
    "If you use {app} on more than one device, each device picks up the change automatically.",
    "Large accounts with more than {number} items can take longer to update.",
    "A small banner at the top of the page confirms that the change was saved.",
    "You do not need to restart {device} afterwards.",
    "Your {owner} can see a record of this change in the activity log.",
    "Ask your {owner} if you are not sure which option to choose.",
)

STEP = (
    "Open {app} and sign in.",
    "Go to {menu}.",
    "Select **{Thing}**.",
    "Choose **{Verb}** next to the {thing} you want to change.",
    "Check the details and select **{button}**.",
    "Enter your password again if you are asked to.",
    "Wait for the confirmation message.",
    "Select the menu icon in the top corner.",
    "Scroll down to the **{Thing}** section.",
    "Follow the instructions on the screen.",
    "Type a name you will recognise later.",
    "Turn on the switch next to **{Verb} automatically**.",
    "Pick the account you want to use.",
    "Review the summary and select **{button}**.",
    "Close the settings page; your changes are saved.",
    "Reload {app} so the change shows everywhere.",
    "Select **More options**, then **{Verb} {thing}**.",
    "Enter the verification code we sent to your phone.",
    "Choose who can see the change: only you, your team or everyone.",
    "Tap **{button}** at the bottom of the screen.",
)

STEP_LEADS = (
    "The buttons are in slightly different places on each device. Pick yours below.",
    "The steps depend on the device you use.",
    "Choose the device you are using; the steps are short on all of them.",
    "On a phone the menu is behind the profile picture; on a computer it is in the sidebar.",
)

CHECK = (
    "If you see error code {code}, note it down and sign in again.",
    "Look up error {code} on the status page.",
    "Check that you are connected to the internet.",
    "Sign out of {app} and sign in again.",
    "Update {app} to the latest version.",
    "Restart {device} and try again.",
    "Make sure your {other} is set up correctly.",
    "Clear the browser cache and reload the page.",
    "Try a different browser or a private window.",
    "Turn off any VPN or proxy for a moment and test again.",
    "Check that the date and time on {device} are correct.",
    "Make sure you have enough free storage.",
    "Check whether your {owner} has restricted this feature.",
    "Look at the status page to see whether there is a known outage.",
    "Remove the {thing} and add it again.",
    "Wait {time} and try again; some changes take a while to spread.",
    "Check the spelling of any names or addresses you typed.",
    "Try the same steps on another device to see whether the problem follows your account.",
)

TROUBLE = (
    "This usually happens after an update or a change to your {other}.",
    "Most of the time the cause is a setting on {device} rather than a fault in {app}.",
    "If none of these help, contact your {owner} and mention the exact message you see.",
    "Write down the time the problem happened; it helps us find it in the logs.",
    "The problem can also appear when two devices change the same {thing} at once.",
)

QUESTION = (
    (
        "Can I {verb} my {thing} {platform}?",
        "Yes. The steps are the same, although the buttons may be in a slightly different place.",
    ),
    (
        "Will {person} notice when I {verb} my {thing}?",
        "Only if they use the same {thing}. Otherwise nothing changes for them.",
    ),
    ("How long does it take to {verb} {a_thing}?", "Usually {time}. Large accounts can take longer."),
    ("Can I undo it?", "Yes, for {period}. After that the old version is deleted for good."),
    ("Why is the option greyed out?", "Your {owner} has turned it off for your organisation. Ask them to enable it."),
    ("Is there a limit?", "You can have up to {number} {things} per account."),
    ("Does this cost anything?", "No. It is included in every plan, including the free one."),
    ("What happens to my {other}?", "Nothing. Your {other} stays exactly as it was."),
    (
        "Can my {owner} do this for me?",
        "Yes. Administrators can {verb} {a_thing} on behalf of any user in the admin console.",
    ),
    ("Do I need the mobile app?", "No. Everything described here also works in a web browser."),
    (
        'What if I see the message "{error}"?',
        "Try again in {time}. If the message comes back, contact support and include a screenshot.",
    ),
    ("Where can I see what changed?", "Open {menu} and select **History** to see every change and who made it."),
)

ADMIN = (
    "Administrators can {verb} {things} for the whole organisation from the admin console.",
    "You can stop users from changing their {thing} by turning off the matching policy.",
    "Policies apply to new and existing users within {time}.",
    "To apply a setting to one team only, create a user group and assign the policy to it.",
    "Every change made by an administrator is written to the audit log and kept for {period}.",
    "If your organisation uses single sign-on, some of these options are managed by your identity provider.",
    "Bulk changes for more than {number} users can be made with a spreadsheet upload.",
    "Users get an email when an administrator changes their {thing}.",
)

PRIVACY = (
    "We never ask for your password by email or phone.",
    "Your {thing} is encrypted while it is stored and while it travels over the network.",
    "Only people you choose can see your {thing}.",
    "If you receive a message asking you to {verb} your {thing} and you did not expect it, report it as phishing.",
    "Deleted data is removed from our backups after {period}.",
    "Support staff cannot see the contents of your {thing} unless you give them permission.",
    "We recommend turning on two-step verification before you {verb} sensitive settings.",
    "Data is stored in the region you chose when the account was created.",
)

AFTER = (
    "After you {verb} your {thing}, it can take {time} for every device to catch up.",
    "You may be asked to sign in again on your other devices.",
    "People you work with will see the updated {thing} the next time they open {app}.",
    "If you {verbed} the {thing} by mistake, you can restore it for {period}.",
    "We send a confirmation to your recovery email address.",
    "Automatic rules that depend on your {thing} are updated at the same time.",
    "Any shared links keep working unless you {verbed} them on purpose.",
)

TIP = (
    "Give each {thing} a clear name so you can tell them apart later.",
    "Set a reminder to review your {things} every few months.",
    "Use keyboard shortcuts to work faster: press the question mark key to see them all.",
    "Keep {app} up to date so you always have the newest options.",
    "If you manage {things} for others, agree on a naming rule with your team.",
    "Check your {other} at the same time; people often forget it.",
    "Bookmark {menu} if you visit it often.",
    "Turn on notifications so you know when someone changes a shared {thing}.",
    'Try the search box at the top of the settings page: type "{word}" to jump straight to the option.',
    "Test the change with {person} before you roll it out to everyone.",
)

LIMIT = (
    "Each account can have up to {number} {things}.",
    "Files larger than {size} cannot be attached; share a link instead.",
    "You can {verb} {a_thing} at most {number} times a day.",
    "Free accounts include {size} of storage; paid plans include more.",
    "Deleted {things} stay in the trash for {period}.",
    "Names can be up to 64 characters long and cannot contain slashes.",
    "Changes to more than {number} items at once are processed in the background.",
    "Older devices running systems more than five years old are not supported.",
)

TITLES = (
    "How to {verb} your {thing} {platform}",
    "{Verb} your {thing} {platform}",
    "{Verbing} {a_thing} in {app_short}",
    "Why can't I {verb} my {thing}?",
    "{Thing} {problem} {platform}",
    "What to do when your {thing} {problem}",
    "{Verb} {things} for your team",
    "{Thing} settings {platform}",
    "Troubleshoot your {thing} {platform}",
    "Get started with your {thing} {platform}",
)

DEVICES = {
    "Web": "your browser",
    "Windows": "your PC",
    "Mac": "your Mac",
    "Android": "your Android phone",
    "iPhone": "your iPhone",
    "iPad": "your iPad",
    "Linux": "your Linux computer",
    "Desktop app": "your computer",
}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class _Slots(dict):
    """Template values: fixed ones for the article, drawn ones on first use in a sentence."""

    def __init__(self, fixed: dict[str, str], draw: dict):
        super().__init__(fixed)
        self.draw = draw

    def __missing__(self, key: str) -> str:
        value = self[key] = self.draw[key]()
        return value


class _Writer:
    """Compose one article from a topic, a thing, a verb and a platform."""

    def __init__(self, rng: random.Random, topic: Topic, thing: Thing, verb: Verb, platform: tuple[str, str]):
        self.rng = rng
        self.topic = topic
        self.thing = thing
        self.verb = verb
        self.platform = platform
        others = [t for t in topic.things if t is not thing]
        self.other = rng.choice(others)
        self.slots = {
            "thing": thing.name,
            "a_thing": ("an " if thing.name[0] in "aeioAEIO" else "a ") + thing.name,
            "things": thing.plural,
            "Thing": _cap(thing.name),
            "verb": verb.base,
            "verbing": verb.ing,
            "verbed": verb.past,
            "Verb": _cap(verb.base),
            "Verbing": _cap(verb.ing),
            "app": topic.app,
            "app_short": topic.menu,
            "owner": topic.owner,
            "platform": platform[0],
            "device": DEVICES[platform[1]],
            "category": topic.category,
            "menu": f"**Settings** > **{topic.menu}** > **{_cap(thing.plural)}**",
            "other": self.other.name,
            "others": self.other.plural,
        }
        # Slots that change from sentence to sentence are drawn only when a template uses them.
        self.draw = {
            "problem": lambda: rng.choice(thing.problems),
            "button": lambda: rng.choice(BUTTONS),
            "time": lambda: rng.choice(TIMES),
            "period": lambda: rng.choice(PERIODS),
            "number": lambda: rng.choice(NUMBERS),
            "size": lambda: rng.choice(SIZES),
            "person": lambda: rng.choice(PEOPLE),
            "word": lambda: rng.choice(topic.words),
            "error": lambda: rng.choice(topic.errors),
            "code": lambda: f"{topic.tag[:3].upper()}-{rng.randint(100, 9999)}",
            "version": lambda: f"{rng.randint(2, 9)}.{rng.randint(0, 20)}",
        }

    def fill(self, template: str) -> str:
        return template.format_map(_Slots(self.slots, self.draw))

    def sentences(self, pool, count: int) -> list[str]:
        return [self.fill(t) for t in self.rng.sample(pool, min(count, len(pool)))]

    def paragraph(self, pool, low: int = 2, high: int = 4, filler: int = 1) -> str:
        picked = self.sentences(pool, self.rng.randint(low, high))
        extra = self.sentences(FILLER, self.rng.randint(0, filler))
        extra += self.sentences(FACTS[self.topic.category], self.rng.randint(0, filler))
        for sentence in extra:
            picked.insert(self.rng.randint(0, len(picked)), sentence)
        return " ".join(picked)

    def bullets(self, pool, low: int, high: int, numbered: bool = False) -> str:
        items = self.sentences(pool, self.rng.randint(low, high))
        return "\n".join(f"{n}. {item}" if numbered else f"- {item}" for n, item in enumerate(items, start=1))

    # Each section returns (heading, Markdown body). Headings are unique within an article.

    def steps(self) -> tuple[str, str]:
        rng = self.rng
        heading = self.fill(
            rng.choice(("{Verb} your {thing} {platform}", "Steps to {verb} {a_thing}", "How to {verb} it"))
        )
        if rng.random() < 0.5:
            return heading, self.fill("Follow these steps {platform}:") + "\n\n" + self.bullets(STEP, 4, 7, True)
        names = rng.sample([p for p in PLATFORMS if p != self.platform], 2) + [self.platform]
        parts = [self.fill(rng.choice(STEP_LEADS))]
        for _, short in names[: rng.randint(2, 3)]:
            parts.append(f"### {short}\n\n" + self.bullets(STEP, 3, 5, True))
        return heading, "\n\n".join(parts)

    def before(self) -> tuple[str, str]:
        items = [
            self.fill("An account with access to {app}."),
            self.fill("The latest version of {app} {platform}."),
            self.fill("Permission from your {owner}, if your organisation requires it."),
            self.fill("A few minutes to spare; the change itself takes {time}."),
            self.fill("Your recovery email address or phone, in case we need to verify it is you."),
            self.fill("A backup of your {thing}, if you plan to delete anything."),
        ]
        body = self.paragraph(FILLER, 1, 2, 0) + "\n\nYou will need:\n\n"
        body += "\n".join(f"- {item}" for item in self.rng.sample(items, self.rng.randint(2, 4)))
        return self.fill(self.rng.choice(("Before you begin", "What you need", "Before you start"))), body

    def troubleshoot(self) -> tuple[str, str]:
        rng = self.rng
        heading = self.fill(rng.choice(("If your {thing} {problem}", "Troubleshooting", "If it does not work")))
        lead = self.fill("If your {thing} {problem}, work through these checks in order:")
        body = self.paragraph(TROUBLE, 1, 2) + " " + lead + "\n\n" + self.bullets(CHECK, 3, 6)
        if rng.random() < 0.4:
            body += "\n\n### " + self.fill("Still not working?") + "\n\n" + self.paragraph(TROUBLE, 1, 2)
        return heading, body

    def errors(self) -> tuple[str, str]:
        parts = [self.fill("These are the messages people see most often when they {verb} {a_thing}.")]
        for error in self.rng.sample(self.topic.errors, self.rng.randint(2, 3)):
            parts.append(f'### "{error}"\n\n' + self.paragraph(TROUBLE + CHECK, 1, 2, 0))
        return "Common error messages", "\n\n".join(parts)

    def faq(self) -> tuple[str, str]:
        parts = []
        for question, answer in self.rng.sample(QUESTION, self.rng.randint(2, 4)):
            parts.append(f"### {self.fill(question)}\n\n{self.fill(answer)}")
        return "Frequently asked questions", "\n\n".join(parts)

    def admin(self) -> tuple[str, str]:
        return self.fill("For administrators"), self.paragraph(ADMIN, 2, 4)

    def privacy(self) -> tuple[str, str]:
        return self.fill("Privacy and security"), self.paragraph(PRIVACY, 2, 3)

    def after(self) -> tuple[str, str]:
        return self.fill("What happens next"), self.paragraph(AFTER, 2, 4)

    def tips(self) -> tuple[str, str]:
        return "Tips", self.bullets(TIP, 3, 5)

    def limits(self) -> tuple[str, str]:
        return "Limits", self.fill("Keep these limits in mind:") + "\n\n" + self.bullets(LIMIT, 2, 4)

    SECTIONS = ("before", "troubleshoot", "errors", "faq", "admin", "privacy", "after", "tips", "limits")


@dataclass(frozen=True)
class GeneratedArticle:
    """One composed article: its slug, its Markdown file text, and what it is about."""

    slug: str
    title: str
    text: str
    topic: str
    thing: str
    verb: str


def compose_article(rng: random.Random, taken: set[str], related: dict[str, list[tuple[str, str]]]) -> GeneratedArticle:
    """Compose one article whose slug is not in ``taken``; ``related`` maps a category to (slug, title) pairs."""
    topic = rng.choice(TOPICS)
    thing = rng.choice(topic.things)
    verb = VERBS[rng.choice(thing.verbs)]
    platform = rng.choice(PLATFORMS)
    writer = _Writer(rng, topic, thing, verb, platform)
    title = _cap(writer.fill(rng.choice(TITLES)))
    slug = base = _slugify(title)
    suffix = 2
    while slug in taken:
        slug, suffix = f"{base}-{suffix}", suffix + 1
    taken.add(slug)

    target = rng.randint(300, 600)
    kinds = rng.sample(_Writer.SECTIONS, len(_Writer.SECTIONS))
    sections = [writer.steps()]
    intro = writer.paragraph(INTRO, 2, 3) + " " + writer.fill(rng.choice(FACTS[topic.category]))

    def length() -> int:
        return len(intro.split()) + sum(len(h.split()) + len(b.split()) for h, b in sections)

    # Four to eight sections: add kinds until the article is long enough, then drop
    # sections (never the steps) while it is clearly too long.
    while len(sections) < 4 or (len(sections) < 7 and length() < target):
        sections.append(getattr(writer, kinds.pop())())
    neighbours = related.get(topic.category, [])[-50:]
    if neighbours and rng.random() < 0.5:
        links = rng.sample(neighbours, min(len(neighbours), rng.randint(2, 3)))
        sections.append(("Related articles", "\n".join(f"- [{t}]({s}.md)" for s, t in links)))
    while length() > target + 40 and len(sections) > 4:
        sections.pop(rng.randrange(1, len(sections)))
    while length() < target:
        at = rng.randrange(0, len(sections))
        heading, body = sections[at]
        if heading != "Related articles":
            pool = FILLER + FACTS[topic.category]
            sections[at] = (heading, body + "\n\n" + writer.paragraph(pool, 2, 3, 0))
    parts = [intro] + [f"## {heading}\n\n{body}" for heading, body in sections]

    tags = sorted({topic.tag, thing.name.lower().split()[-1], verb.base, _slugify(platform[1].split()[-1])})
    year = rng.choice((2023, 2024, 2025, 2026))
    updated = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(0, 365))
    front = {
        "title": title,
        "category": topic.category,
        "summary": writer.fill(
            rng.choice(
                (
                    "How to {verb} your {thing} {platform}, and what to do if it {problem}.",
                    "Step-by-step help to {verb} {a_thing}, with answers to common questions.",
                    "Everything you need to know to {verb} your {thing} in {app}.",
                    "What to check when your {thing} {problem}.",
                )
            )
        ),
        "tags": tags,
        "updated": updated,
    }
    text = (
        "---\n"
        + yaml.dump(front, Dumper=DUMPER, sort_keys=False, allow_unicode=True)
        + "---\n\n"
        + "\n\n".join(parts)
        + "\n"
    )
    return GeneratedArticle(slug, title, text, topic.category, thing.name, verb.base)


def generate(directory: str | Path, count: int, seed: int = 1) -> list[GeneratedArticle]:
    """Write ``count`` articles into ``directory`` and return them."""
    rng = random.Random(seed)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    by_topic: dict[str, list[tuple[str, str]]] = {}
    articles = []
    for _ in range(count):
        article = compose_article(rng, taken, by_topic)
        by_topic.setdefault(article.topic, []).append((article.slug, article.title))
        (directory / f"{article.slug}.md").write_text(article.text, encoding="utf-8")
        articles.append(article)
    return articles
