"""The shared normaliser: typos are corrected, real English words are left as typed."""

import pytest

from kb import DEFAULT_LEXICON_PATH
from kb.synonyms import load_lexicon
from kb.text import CommonWords, build_normalizer, common_words

LEXICON = load_lexicon(DEFAULT_LEXICON_PATH)
# The words the speller used to "correct" real words to, beside the ones typos should become.
VOCABULARY = dict.fromkeys(
    "most must find use mail correct reception what one will port smtp right want can how any such "
    "the all person would settings address outgoing incoming authentication protocol username issues".split(),
    5,
)
NORMALIZER = build_normalizer(LEXICON, VOCABULARY)


@pytest.mark.parametrize(
    "word",
    "host just fine user incorrect exception chat none cost bill fail sort night show many much them gone "
    "call personal world".split(),
)
def test_common_english_words_are_not_corrected(word):
    assert NORMALIZER.speller.correct(word) == word


@pytest.mark.parametrize(
    ("typo", "word"),
    [
        ("setings", "settings"),
        ("adress", "address"),
        ("outgoign", "outgoing"),
        ("incomming", "incoming"),
        ("smpt", "smtp"),
        ("authetication", "authentication"),
        ("authentification", "authentication"),
        ("protocal", "protocol"),
        ("usrname", "username"),
        ("issus", "issues"),  # in the English list, but below its frequency floor
    ],
)
def test_typos_are_still_corrected(typo, word):
    assert NORMALIZER.speller.correct(typo) == word


def test_a_question_keeps_its_meaning():
    # "host" and "incorrect" stay; the typo is corrected to "password", which the lexicon knows
    # (German "Passwort" and French "mot de passe" are spelled as it).
    assert NORMALIZER.normalize("my host rejects the incorrect pasword") == "my host rejects the incorrect password"
    assert NORMALIZER.normalize("outgoign setings") == "outgoing smtp settings"


def test_the_word_list_is_loaded_once_and_without_rare_entries():
    words = common_words()
    assert words is common_words()
    assert {"host", "incorrect", "exception"} <= words.words
    assert not {"adress", "setings", "outgoign", "issus"} & words.words
    assert words.source.startswith("pyspellchecker ")


def test_the_fingerprint_follows_the_word_list():
    first = build_normalizer(LEXICON, VOCABULARY, CommonWords(frozenset({"host"}), "list a"))
    second = build_normalizer(LEXICON, VOCABULARY, CommonWords(frozenset({"host"}), "list b"))
    assert first.fingerprint != second.fingerprint


def test_lexicon_terms_are_known_words():
    assert {"gmail", "sftp", "jmap"} <= set(LEXICON.terms)
    assert NORMALIZER.normalize("gmail over sftp") == "gmail over sftp"
    assert NORMALIZER.speller.correct("gmial") == "gmail"


@pytest.mark.parametrize(
    "bare", "dont doesnt didnt isnt wasnt arent werent wont cant couldnt wouldnt shouldnt havent hasnt".split()
)
def test_negations_typed_without_an_apostrophe_get_one(bare):
    negation = bare[:-1] + "'t"
    assert NORMALIZER.normalize(f"I {bare.upper()} want pop3") == f"i {negation} want pop3"


@pytest.mark.parametrize("mark", ["\u2019", "\u2018", "\u02bc", "\uff07"])
def test_typographic_apostrophes_read_as_plain_ones(mark):
    typed = f"I don{mark}t want POP, what{mark}s the imap server"
    assert NORMALIZER.normalize(typed) == NORMALIZER.normalize("I don't want POP, what's the imap server")
    assert "don't" in NORMALIZER.normalize(typed)


@pytest.mark.parametrize(("typed", "meant"), [("my sever name", "server"), ("smtp severs", "servers"),
                                              ("imap hots", "host")])
def test_typos_that_are_english_words_too_are_respelled(typed, meant):
    assert meant in NORMALIZER.normalize(typed).split()
