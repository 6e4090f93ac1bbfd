"""Compose a help center of plain-English articles for the search benchmark.

There is no corpus to download, so the articles are put together from parts: topics
(email, accounts, billing, devices, ...), the things each topic is about, what people
do to those things, the platforms they use, and many sentence templates for each kind
of section (steps, troubleshooting, questions and answers, limits, tips). One seed
gives the same articles every time.

Each article is Markdown with the front matter the loader expects, an intro paragraph
and 4-8 sections under ``##`` headings, some with ``###`` subsections, lists and
paragraphs, and about 300-600 words. The parts are data, in ``data/corpus.yml``; this module
only puts them together.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# --- vocabulary: the parts are data, in data/corpus.yml ----------------------------


@dataclass(frozen=True)
class Verb:
    """An action in its three forms: "set up", "setting up", "set up"."""

    base: str
    ing: str
    past: str


def _verb(spec: str) -> Verb:
    base, ing, past = spec.split("|")
    return Verb(base, ing, past)


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


DATA = yaml.safe_load((Path(__file__).resolve().parent / "data" / "corpus.yml").read_text(encoding="utf-8"))
VERBS = {v.base: v for v in map(_verb, DATA["verbs"])}
TOPICS = tuple(_topic(**topic) for topic in DATA["topics"])
# Topic-specific sentences: they carry most of each topic's own vocabulary.
FACTS = {category: tuple(sentences) for category, sentences in DATA["facts"].items()}
PLATFORMS = tuple((phrase, name) for phrase, name in DATA["platforms"])
DEVICES = DATA["devices"]
QUESTION = tuple((question, answer) for question, answer in DATA["question"])
# Word lists and sentence templates. Slots: {thing} {things} {Thing} {verb} {verbing} {verbed} {Verb}
# {Verbing} {app} {menu} {owner} {platform} {device} {problem} {other} {others} {button} {time}
# {period} {number} {size} {person} {word} {error} {category}
BUTTONS, TIMES, PERIODS, NUMBERS, SIZES, PEOPLE, TITLES = (
    tuple(DATA[name]) for name in ("buttons", "times", "periods", "numbers", "sizes", "people", "titles")
)
INTRO, FILLER, STEP, STEP_LEADS, CHECK, TROUBLE = (
    tuple(DATA[name]) for name in ("intro", "filler", "step", "step_leads", "check", "trouble")
)
ADMIN, PRIVACY, AFTER, TIP, LIMIT = (tuple(DATA[name]) for name in ("admin", "privacy", "after", "tip", "limit"))


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
