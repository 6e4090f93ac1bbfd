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

Nothing here imports Flask or the classifier: the web layer wires them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb.answers import Answer, Responses, clarify_answer, fallback_answer, load_responses, render_responses
from kb.articles import Library, load_articles
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
    """
    answers = base.responses.answers
    if not fallback and len(choices) > 1 and all(c in answers for c in choices):
        return clarify_answer(base.responses, base.settings, list(choices), base.article_url)
    if fallback or intent not in answers:
        hits = search(base.index, base.library, base.normalizer, question, limit=FALLBACK_RESULTS).hits
        return fallback_answer(base.responses, base.settings, hits, base.article_url)
    return answers[intent]
