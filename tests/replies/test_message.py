"""Pasted customer mail: the new words are kept; quoted mail, greetings and signatures go."""

import time

import pytest

from replies.message import clean_message

QUESTION = "How do I turn on POP3 for my mailbox? My phone keeps losing mail."


@pytest.mark.parametrize(
    "tail",
    [
        "On Mon, 3 Mar 2026 at 10:12, Support Team <help@example.com> wrote:\n> Hello Anna,\n> please use IMAP.\n",
        # Gmail breaks a long header line before the address.
        "On Mon, Mar 3, 2026 at 10:12 AM Support Team <\nhelp@example.com> wrote:\n\n> Hello Anna,\n",
        "-----Original Message-----\nFrom: Support <help@example.com>\nSent: Monday, March 3, 2026 10:00 AM\n"
        "To: Anna\nSubject: RE: phone\n\nPlease use IMAP.\n",
        "________________________________\nFrom: Support <help@example.com>\nSent: Monday, March 3, 2026 10:00\n"
        "To: Anna\nSubject: RE: phone\n\nPlease use IMAP.",
        "Am 03.03.2026 um 10:12 schrieb Support <help@example.com>:\n> Hallo Anna,\n> bitte IMAP verwenden.",
    ],
)
def test_quoted_mail_below_the_question_is_removed(tail):
    message = clean_message(f"{QUESTION}\n\n{tail}")
    assert message.text == QUESTION
    assert "IMAP" in message.quoted or "Hello" in message.quoted or "Hallo" in message.quoted
    assert message.trimmed


def test_lines_quoted_between_the_customers_own_are_removed():
    message = clean_message("> Which app do you use?\nThunderbird.\n> And the error?\nIt says authentication required.")
    assert message.text == "Thunderbird.\nIt says authentication required."
    assert message.quoted == "> Which app do you use?\n> And the error?"


@pytest.mark.parametrize(
    ("signature", "removed"),
    [
        ("-- \nJohn Smith\nACME Ltd, +1 555 0100", "John Smith"),
        ("Sent from my iPhone", "Sent from my iPhone"),
        ("Best regards,\nJane Doe\nHead of IT\nACME", "Best regards"),
        ("Kind regards\nTom Baker", "Kind regards"),
        ("Thanks,\nAnna", "Thanks"),
        ("Thanks\nTom", "Thanks"),
        ("Cheers, Tom", "Cheers, Tom"),
    ],
)
def test_signatures_and_sign_offs_are_removed(signature, removed):
    message = clean_message(f"Hello,\nwhich username do I use in Outlook?\n\n{signature}")
    assert message.text == "which username do I use in Outlook?"
    assert removed in message.signature


@pytest.mark.parametrize("greeting", ["Hi team,", "Dear ProRedLine support,", "Good morning!", "Hello"])
def test_a_greeting_line_is_removed(greeting):
    assert clean_message(f"{greeting}\n\nIs SSL required?").text == "Is SSL required?"


def test_a_greeting_in_front_of_the_question_is_removed():
    assert clean_message("Hi, how do I enable POP3?").text == "how do I enable POP3?"


def test_the_customers_own_words_are_kept():
    text = "My settings:\n- server imap\n- port whatever\nIs this right?"
    assert clean_message(text).text == text
    assert clean_message("Thanks for the quick answer! But which username do I use?").text.startswith("Thanks for")
    # A message that is nothing but a greeting or thanks stays as it is: it is what was said.
    assert clean_message("Hello").text == "Hello"
    assert clean_message("Thanks!").text == "Thanks!"


def test_a_paste_of_only_the_quoted_question_reads_the_question():
    message = clean_message("On Mon, 3 Mar 2026 at 10:12, Anna <anna@example.com> wrote:\n> Can I use POP3?")
    assert message.text == "Can I use POP3?"
    assert clean_message("> How do I enable POP3?\n> Thanks").text == "How do I enable POP3?"


def test_windows_line_endings_and_blank_input():
    assert clean_message("Is SSL required?\r\n\r\nSent from my iPhone").text == "Is SSL required?"
    assert clean_message("   ").text == ""


@pytest.mark.parametrize(
    "filler",
    [" ", "\n", "\t", "\u00a0", " \n", "\u00a0\n", "a\n", ">\n", "> a\n", ".", "-", "a "],
    ids=[
        "spaces",
        "newlines",
        "tabs",
        "nbsp",
        "space-nl",
        "nbsp-nl",
        "a-nl",
        "gt-nl",
        "quote",
        "dots",
        "dashes",
        "words",
    ],
)
def test_a_pasted_mail_is_read_in_linear_time(filler):
    """Long runs of blanks made the reply parser's patterns quadratic (4,000 newlines: 3.7 s)."""
    for length, limit in ((4000, 0.25), (20_000, 1.0)):  # the short one first: a quadratic reader fails fast
        mail = "Hi,\n\nsmtp auth" + filler * (length // len(filler)) + "x\n\nThanks"
        start = time.perf_counter()
        clean_message(mail)
        took = time.perf_counter() - start
        assert took < limit, f"{len(mail)} characters took {took:.2f} s"
