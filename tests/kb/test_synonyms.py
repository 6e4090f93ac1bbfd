"""Synonyms added from the inbox: a pure edit of YAML data, merged into the shipped lexicon when loaded."""

import pytest
import yaml

from kb.synonyms import SynonymError, add_synonym, dump_lexicon, load_lexicon, merge_lexicons

SHIPPED = {"spellings": {"pop3": ["pop 3"]}, "synonyms": [["smtp", "outgoing"], ["imap", "incoming"]]}


def test_a_new_pair_becomes_a_group_and_a_known_word_extends_its_group():
    overlay = add_synonym({}, SHIPPED, "mailbox", "inbox")
    assert overlay["synonyms"] == [["mailbox", "inbox"]]
    overlay = add_synonym(overlay, merge_lexicons(SHIPPED, overlay), "Sender", "smtp")
    assert overlay["synonyms"] == [["mailbox", "inbox"], ["smtp", "sender"]]
    merged = merge_lexicons(SHIPPED, overlay)
    assert merged["synonyms"] == [["smtp", "outgoing", "sender"], ["imap", "incoming"], ["mailbox", "inbox"]]


@pytest.mark.parametrize(
    "word, synonym, message",
    [
        ("smtp", "outgoing", "already synonyms"),
        ("outgoing", "incoming", "joining the two groups"),
        ("mail box", "inbox", "not a single word"),
        ("inbox", "inbox", "its own synonym"),
        ("", "inbox", "both words"),
    ],
)
def test_refused_synonyms_say_why(word, synonym, message):
    with pytest.raises(SynonymError, match=message):
        add_synonym({}, SHIPPED, word, synonym)


def test_the_loader_merges_the_overlay_file(tmp_path):
    shipped, overlay = tmp_path / "synonyms.yml", tmp_path / "overlay.yml"
    shipped.write_text(yaml.safe_dump(SHIPPED))
    overlay.write_text(dump_lexicon(add_synonym({}, SHIPPED, "sender", "smtp")))
    lexicon = load_lexicon(shipped, overlay)
    assert lexicon.equivalents("sender") == ("sender", "smtp", "outgoing")
    assert lexicon.canonical("sender") == "smtp"
    assert load_lexicon(shipped, tmp_path / "missing.yml").equivalents("sender") == ("sender",)
    assert overlay.read_text().startswith("# Synonyms added")


def test_overlay_terms_join_the_shipped_ones():
    merged = merge_lexicons({**SHIPPED, "terms": ["gmail"]}, {"terms": ["sftp", "gmail"]})
    assert merged["terms"] == ["gmail", "sftp"]
    assert "terms" not in merge_lexicons(SHIPPED, {})
    assert "terms: [gmail, sftp]" in dump_lexicon(merged)
