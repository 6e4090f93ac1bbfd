"""Negation marking: word features see which words a question does not want."""

import pytest

from classifier.negation import mark_negations


@pytest.mark.parametrize(("text", "marked"), [
    # the shared normaliser writes the canonical protocol beside its synonym
    ("not the incoming imap one the outgoing smtp", "not neg_the neg_incoming neg_imap one the outgoing smtp"),
    ("i don't want pop3 what's the imap server", "i don't neg_want neg_pop3 what's the imap server"),
    ("use imap instead of pop3", "use imap instead neg_of neg_pop3"),
    ("sending smtp works what about the incoming imap", "neg_sending neg_smtp works what about the incoming imap"),
    ("dont want pop3 imap server please", "dont neg_want neg_pop3 imap server please"),
    ("i couldn't send with smtp", "i couldn't neg_send neg_with neg_smtp"),
    ("i haven't enabled pop3 what about imap", "i haven't neg_enabled neg_pop3 what about imap"),
    # a settled word after a wish does not say the direction works
    ("i just need pop3 working on my mac", "i just need pop3 working on my mac"),
    ("i have imap working give me smtp", "i have neg_imap working give me smtp"),
])
def test_negated_words_and_settled_directions_are_marked(text, marked):
    assert mark_negations(text) == marked


def test_questions_without_negation_are_unchanged_but_lower_case():
    assert mark_negations("What is the SMTP port") == "what is the smtp port"
    assert mark_negations("") == ""
