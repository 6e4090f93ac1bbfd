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

from kb.articles import Library, load_articles
from kb.search import IndexSearcher, learn_stems
from kb.settings import MailSettings, load_settings
from kb.text import Lexicon, Normalizer, build_normalizer, count_words, load_lexicon

PACKAGE_DIR = Path(__file__).resolve().parent
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
    article_url: str


def library_vocabulary(library: Library) -> dict[str, int]:
    """Count the words of every article's titles, summaries, tags and sections."""
    return count_words(
        text
        for article in library.articles.values()
        for text in (article.title, article.summary, " ".join(article.tags), *(f"{s.title} {s.text}" for s in article.sections))
    )


def load_knowledge_base(
    articles_dir: str | Path,
    index_dir: str | Path,
    *,
    settings_path: str | Path = DEFAULT_SETTINGS_PATH,
    lexicon_path: str | Path = DEFAULT_LEXICON_PATH,
    article_url: str = "/articles/",
    extra_vocabulary: dict[str, int] | None = None,
) -> KnowledgeBase:
    """Load settings, articles and lexicon, and prepare the index searcher."""
    settings = load_settings(settings_path)
    library = load_articles(articles_dir, settings, article_url)
    lexicon = load_lexicon(lexicon_path)
    vocabulary = library_vocabulary(library)
    for word, count in (extra_vocabulary or {}).items():
        vocabulary[word] = vocabulary.get(word, 0) + count
    learn_stems(vocabulary)
    return KnowledgeBase(
        settings=settings,
        library=library,
        lexicon=lexicon,
        normalizer=build_normalizer(lexicon, vocabulary),
        index=IndexSearcher(index_dir),
        article_url=article_url,
    )
