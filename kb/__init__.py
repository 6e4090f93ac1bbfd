"""The knowledge base: policy articles, the settings they quote, search, and canned answers.

Concepts:

- An **article** is a Markdown file with YAML front matter in ``articles/``. It is split
  into **sections** at its headings; each section has a stable anchor.
- **Settings** (``mail_settings.yml``) hold the values the policy leaves open (hosts,
  ports). Articles and answers insert them through placeholders such as ``{imap.host}``,
  so a page and an answer can never disagree.
- The **lexicon** (``synonyms.yml``) lists spellings and synonyms. With a vocabulary
  built from the articles it makes the **normaliser** that search and the answer bot
  share: one layer for "pop 3", "outgoign" and "login".
- The **index** (Whoosh) holds one document per article and one per section; it is
  built aside and swapped in atomically. Search scores it in bulk (``kb.ranking``) from
  term postings cached in memory; the caches belong to one opened build and are warmed
  in the background when it is opened, so a rebuild starts them afresh.
- **Responses** (``responses.yml``) are the bot's canned answers, keyed by intent.
- The **policy reader** (``policy``) sees when a question names a set-up the policy rules out
  (POP3, a port without encryption, authentication off, a short username); the answer then
  says no first, with the setting to use, whatever the classifier decided.

Nothing here imports Flask or the classifier: the web layer wires them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb.answers import (
    Answer,
    Responses,
    clarify_answer,
    fallback_answer,
    load_responses,
    prepend_block,
    render_responses,
)
from kb.articles import Library, load_articles
from kb.policy import POP3_INTENTS, pop3_line, read_question, rule_sentence
from kb.search import IndexSearcher, learn_stems, search
from kb.settings import MailSettings, load_settings
from kb.synonyms import Lexicon, load_lexicon
from kb.text import Normalizer, build_normalizer
from kb.words import count_words

PACKAGE_DIR = Path(__file__).resolve().parent
# Kept beside the index builds: state the app makes from the articles, safe to delete.
RENDER_CACHE = "rendered.json"
DEFAULT_SETTINGS_PATH = PACKAGE_DIR / "mail_settings.yml"
DEFAULT_LEXICON_PATH = PACKAGE_DIR / "synonyms.yml"
DEFAULT_RESPONSES_PATH = PACKAGE_DIR / "responses.yml"


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything loaded once per app: settings, articles, lexicon, normaliser and index."""

    settings: MailSettings
    library: Library
    lexicon: Lexicon
    normalizer: Normalizer
    index: IndexSearcher
    responses: Responses
    article_url: str


FALLBACK_RESULTS = 3


def library_vocabulary(library: Library) -> dict[str, int]:
    """Count the words of every article's titles, summaries, tags and sections."""
    return count_words(
        text
        for article in library.articles.values()
        for text in (
            article.title, article.summary, " ".join(article.tags), *(f"{s.title} {s.text}" for s in article.sections)
        )
    )


def make_normalizer(library: Library, lexicon: Lexicon, extra_vocabulary: dict[str, int] | None = None) -> Normalizer:
    """Build the normaliser over the articles' words, the lexicon and (say, the training data's) extra words."""
    vocabulary = library_vocabulary(library)
    normalizer = build_normalizer(lexicon, vocabulary)
    if extra_vocabulary:
        # Other words (say, from the bot's training data) join the vocabulary unless they
        # look like a misspelling of a knowledge-base word: "authentification" must still
        # be corrected, "invoice" must not become something else.
        for word, count in extra_vocabulary.items():
            if normalizer.speller.correct(word) == word:
                vocabulary[word] = vocabulary.get(word, 0) + count
        normalizer = build_normalizer(lexicon, vocabulary)
    learn_stems(vocabulary)
    return normalizer


def load_knowledge_base(
    articles_dir: str | Path,
    index_dir: str | Path,
    *,
    settings_path: str | Path = DEFAULT_SETTINGS_PATH,
    lexicon_path: str | Path = DEFAULT_LEXICON_PATH,
    responses_path: str | Path = DEFAULT_RESPONSES_PATH,
    article_url: str = "/articles/",
    extra_vocabulary: dict[str, int] | None = None,
    lexicon_overlay: dict | None = None,
) -> KnowledgeBase:
    """Load settings, articles, lexicon and responses, and prepare the index searcher.

    ``lexicon_overlay`` (synonyms added since release, in the format of synonyms.yml) is
    merged into the lexicon. Rendered articles are kept in the index folder
    (``RENDER_CACHE``) for the next load.
    """
    settings = load_settings(settings_path)
    library = load_articles(articles_dir, settings, article_url, Path(index_dir) / RENDER_CACHE)
    lexicon = load_lexicon(lexicon_path, overlay=lexicon_overlay)
    return KnowledgeBase(
        settings=settings,
        library=library,
        lexicon=lexicon,
        normalizer=make_normalizer(library, lexicon, extra_vocabulary),
        index=IndexSearcher(index_dir),
        responses=render_responses(load_responses(responses_path), settings, library, article_url),
        article_url=article_url,
    )


def answer(
    base: KnowledgeBase, question: str, intent: str, *, fallback: bool = False, choices: tuple[str, ...] = ()
) -> Answer:
    """Answer a question whose intent the classifier decided; fall back to search results, or ask.

    ``choices`` (two or more intents) turns the answer into a clarifying question.
    An intent without a response is treated as not understood.

    A question that asks whether something the policy forbids is allowed ("can I turn off
    SSL?", "is port 25 ok?") is answered no in the first sentence, with the setting to use,
    above the canned answer that explains the rule, whatever the classifier decided. Any
    other question that names such a set-up gets the same rule as its first sentence, and
    one that names POP3 always carries the POP3 policy (``kb.policy``).
    """
    answers = base.responses.answers
    reading = read_question(question, base.settings, base.lexicon.respell)
    first = reading.violations[0] if reading.violations else None
    if first is not None and reading.asks_permission:
        target = intent if not fallback and intent in first.related and intent in answers else first.intent
        result, lead = answers[target], rule_sentence(first, base.settings, answer_no=True)
    else:
        if not fallback and len(choices) > 1 and all(c in answers for c in choices):
            result = clarify_answer(base.responses, base.settings, list(choices), base.article_url)
        elif fallback or intent not in answers:
            hits = search(base.index, base.library, base.normalizer, question, limit=FALLBACK_RESULTS).hits
            result = fallback_answer(base.responses, base.settings, hits, base.article_url)
        else:
            result = answers[intent]
        needed = first is not None and result.intent not in first.related
        lead = rule_sentence(first, base.settings, answer_no=False) if needed else None
    if reading.mentions_pop3 and result.intent not in POP3_INTENTS and not (lead and first.protocol == "POP3"):
        # The POP3 policy goes with every answer to a question that names POP3.
        result = prepend_block(result, pop3_line(base.settings), base.article_url)
    return prepend_block(result, lead, base.article_url) if lead else result
