"""Failure signals are grouped by what they are about, with counts, kinds, examples and the last time seen."""

import datetime as dt

from analytics.gaps import Signal, group_key, group_signals, typed_further
from kb.synonyms import load_lexicon
from kb.text import build_normalizer

LEXICON = load_lexicon(__import__("kb").DEFAULT_LEXICON_PATH)
NORMALIZER = build_normalizer(LEXICON, {"enable": 3, "server": 3, "forward": 2, "mail": 4, "quota": 1})
T0 = dt.datetime(2026, 11, 1, 12, 0)


def key(text):
    return group_key(text, NORMALIZER.normalize, LEXICON.canonical)


def test_wordings_of_one_question_share_a_key():
    assert key("How do I enable POP3?") == key("enabel pop 3 please") == key("pop3 enable") == "enable pop3"


def test_synonyms_share_a_key_but_other_topics_do_not():
    assert key("outgoing server") == key("smtp server")
    assert key("forward my mail") != key("enable pop3")


def test_a_question_of_question_words_only_keeps_its_words():
    assert key("how?") == "how"


def test_groups_count_kinds_examples_and_last_seen():
    signals = [
        Signal("fallback", "How do I enable POP3?", T0, intent="pop3_enable"),
        Signal("zero_results", "enable pop 3", T0 + dt.timedelta(hours=2)),
        Signal("fallback", "How do I enable POP3?", T0 + dt.timedelta(hours=1)),
        Signal("not_helpful", "pop3 enable", T0, intent="pop3_enable", reason="not_answered"),
        Signal("clarify", "smtp server", T0, intent="smtp_settings", picked="smtp_settings"),
    ]
    groups = group_signals(signals, NORMALIZER.normalize, LEXICON.canonical)
    assert [g.key for g in groups] == ["enable pop3", "server smtp"]
    pop = groups[0]
    assert pop.count == 4
    assert dict(pop.kinds) == {"fallback": 2, "zero_results": 1, "not_helpful": 1}
    assert pop.example == "How do I enable POP3?"  # the most frequent wording comes first
    assert set(pop.examples) == {"How do I enable POP3?", "enable pop 3", "pop3 enable"}
    assert pop.last_seen == T0 + dt.timedelta(hours=2)
    assert pop.reasons == (("not_answered", 1),) and pop.intents == (("pop3_enable", 2),)
    assert groups[1].picked == (("smtp_settings", 1),)
    assert len({g.id for g in groups}) == 2 and all(len(g.id) == 16 for g in groups)


def test_a_search_typed_further_soon_after_was_only_a_step_of_typing():
    later = [
        (T0 + dt.timedelta(seconds=s), text) for s, text in [(1, "imap se"), (2, "imap settings"), (90, "outlook 365")]
    ]
    within = dt.timedelta(seconds=30)
    assert typed_further("ima", T0, later, within)
    assert typed_further("Imap  se", T0 + dt.timedelta(seconds=1), later, within)
    assert not typed_further("imap settings", T0 + dt.timedelta(seconds=2), later, within)
    assert not typed_further("outlook", T0 + dt.timedelta(seconds=2), later, within)  # 88 s later: a new search
    assert not typed_further("imap", T0 + dt.timedelta(seconds=3), later, within)  # the longer one came before
