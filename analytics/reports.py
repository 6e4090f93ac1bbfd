"""Reports over the stored events: top intents and their trend, helpfulness, fallback rate, as tables and charts.

The web layer runs the queries (counts grouped by day, intent and vote target) and hands the
rows here; everything below is counting and layout.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass

import kb
from analytics import charts

TREND_INTENTS = 5


@dataclass(frozen=True)
class Helpfulness:
    """Votes on one intent's answers or one article section."""

    key: str
    label: str
    helpful: int
    not_helpful: int

    @property
    def rate(self) -> float:
        """Return the share of helpful votes."""
        return self.helpful / max(1, self.helpful + self.not_helpful)


@dataclass(frozen=True)
class Reports:
    """What the reports page and `flask report` show, over the last ``len(days)`` days."""

    days: tuple[str, ...]
    questions: int
    fallbacks: int
    searches: int
    zero_results: int
    top_intents: tuple[tuple[str, str, int], ...]  # (intent, label, answered questions)
    trend: tuple[tuple[str, tuple[int, ...]], ...]  # (intent, count per day) for the top intents
    fallback_by_day: tuple[tuple[str, int, int], ...]  # (day, questions, fallbacks)
    by_intent: tuple[Helpfulness, ...]
    by_section: tuple[Helpfulness, ...]

    @property
    def fallback_rate(self) -> float:
        """Return the share of questions the bot fell back on."""
        return self.fallbacks / max(1, self.questions)


def summarize(days: tuple[str, ...], asked, searches: int, zero_results: int, votes, base: kb.KnowledgeBase) -> Reports:
    """Count questions, fallbacks, searches and votes per day, intent and article section.

    ``asked`` holds (day, intent, fallback, count) rows of questions; ``votes`` holds
    (intent, target, helpful, count) rows; ``days`` are the ISO dates to report, oldest first.
    """
    per_day, fallback_day = defaultdict(Counter), Counter()
    for when, intent, fallback, count in asked:
        when = str(when)
        if fallback:
            fallback_day[when] += count
        else:
            per_day[intent][when] += count
    totals = Counter({intent: sum(counts.values()) for intent, counts in per_day.items()})
    questions_day = Counter()
    for counts in per_day.values():
        questions_day.update(counts)
    questions_day.update(fallback_day)
    label = base.responses.label
    top = tuple((intent, label(intent), count) for intent, count in totals.most_common())
    trend = tuple((intent, tuple(per_day[intent][d] for d in days)) for intent, _, _ in top[:TREND_INTENTS])
    return Reports(
        days=days,
        questions=sum(questions_day.values()),
        fallbacks=sum(fallback_day.values()),
        searches=searches,
        zero_results=int(zero_results),
        top_intents=top,
        trend=trend,
        fallback_by_day=tuple((d, questions_day[d], fallback_day[d]) for d in days),
        by_intent=helpfulness_by_intent(votes, label),
        by_section=helpfulness_by_section(votes, base),
    )


def helpfulness_by_intent(votes, label) -> tuple[Helpfulness, ...]:
    """Count votes on the bot's answers per intent; ``label`` names an intent."""
    counts = defaultdict(Counter)
    for intent, _, helpful, count in votes:
        if intent:
            counts[intent][bool(helpful)] += count
    rows = [Helpfulness(i, label(i), c[True], c[False]) for i, c in counts.items()]
    return tuple(sorted(rows, key=lambda h: (-(h.helpful + h.not_helpful), h.key)))


def helpfulness_by_section(votes, base: kb.KnowledgeBase) -> tuple[Helpfulness, ...]:
    """Count votes per article section.

    A vote on an answer counts for the section the answer quotes; a vote on an article counts for the article.
    """
    counts, labels = defaultdict(Counter), {}
    for intent, target, helpful, count in votes:
        if target in base.library.articles:
            key, name = base.article_url + target, f"{base.library.articles[target].title} (whole article)"
        else:
            source = base.responses.answers[intent].source if intent in base.responses.answers else None
            if source is None:
                continue
            key, name = source.url, f"{source.title} › {source.section}" if source.section else source.title
        counts[key][bool(helpful)] += count
        labels[key] = name
    rows = [Helpfulness(key, labels[key], c[True], c[False]) for key, c in counts.items()]
    return tuple(sorted(rows, key=lambda h: (-(h.helpful + h.not_helpful), h.key)))


def report_rows(reports: Reports) -> list[dict]:
    """Flatten the reports into rows with the same columns, for CSV (and the JSON ``rows``)."""
    rows = [
        {
            "report": "summary",
            "key": name,
            "label": "",
            "day": "",
            "count": value,
            "helpful": "",
            "not_helpful": "",
            "rate": "",
        }
        for name, value in (
            ("questions", reports.questions),
            ("fallbacks", reports.fallbacks),
            ("searches", reports.searches),
            ("zero_results", reports.zero_results),
        )
    ]
    blank = {"label": "", "day": "", "count": "", "helpful": "", "not_helpful": "", "rate": ""}
    rows += [
        {**blank, "report": "top_intents", "key": i, "label": name, "count": n} for i, name, n in reports.top_intents
    ]
    labels = {intent: name for intent, name, _ in reports.top_intents}
    rows += [
        {**blank, "report": "intent_trend", "key": i, "label": labels.get(i, ""), "day": d, "count": n}
        for i, counts in reports.trend
        for d, n in zip(reports.days, counts, strict=True)
    ]
    rows += [
        {
            **blank,
            "report": "fallback_rate",
            "key": "fallback",
            "day": d,
            "count": q,
            "not_helpful": "",
            "rate": round(f / q, 4) if q else 0.0,
        }
        for d, q, f in reports.fallback_by_day
    ]
    for name, group in (("helpfulness_intent", reports.by_intent), ("helpfulness_section", reports.by_section)):
        rows += [
            {
                **blank,
                "report": name,
                "key": h.key,
                "label": h.label,
                "count": h.helpful + h.not_helpful,
                "helpful": h.helpful,
                "not_helpful": h.not_helpful,
                "rate": round(h.rate, 4),
            }
            for h in group
        ]
    return rows


def reports_json(reports: Reports) -> dict:
    """Return the reports as one JSON-ready object."""
    return {
        "days": list(reports.days),
        "summary": {
            "questions": reports.questions,
            "fallbacks": reports.fallbacks,
            "fallback_rate": round(reports.fallback_rate, 4),
            "searches": reports.searches,
            "zero_results": reports.zero_results,
        },
        "top_intents": [{"intent": i, "label": name, "count": n} for i, name, n in reports.top_intents],
        "intent_trend": [{"intent": i, "counts": list(counts)} for i, counts in reports.trend],
        "fallback_by_day": [{"day": d, "questions": q, "fallbacks": f} for d, q, f in reports.fallback_by_day],
        "helpfulness_intent": [
            {
                "intent": h.key,
                "label": h.label,
                "helpful": h.helpful,
                "not_helpful": h.not_helpful,
                "rate": round(h.rate, 4),
            }
            for h in reports.by_intent
        ],
        "helpfulness_section": [
            {
                "url": h.key,
                "label": h.label,
                "helpful": h.helpful,
                "not_helpful": h.not_helpful,
                "rate": round(h.rate, 4),
            }
            for h in reports.by_section
        ],
    }


def report_charts(reports: Reports, label) -> dict:
    """Lay out the reports page's charts."""
    short_days = [d[5:] for d in reports.days]  # MM-DD under the axis; the tables give full dates
    return {
        "top": charts.bar_chart([(name, [n]) for _, name, n in reports.top_intents[:10]]),
        "trend": charts.line_chart(short_days, [(label(i), c) for i, c in reports.trend]),
        "fallback": charts.line_chart(
            short_days, [("Fallback rate", [f / q if q else 0.0 for _, q, f in reports.fallback_by_day])], percent=True
        ),
        "by_intent": charts.bar_chart(
            [(h.label, [h.helpful, h.not_helpful]) for h in reports.by_intent[:10]],
            value_texts=[f"{h.rate:.0%} helpful" for h in reports.by_intent[:10]],
        ),
        "by_section": charts.bar_chart(
            [(h.label, [h.helpful, h.not_helpful]) for h in reports.by_section[:10]],
            value_texts=[f"{h.rate:.0%} helpful" for h in reports.by_section[:10]],
        ),
    }


def report_csv(reports: Reports) -> str:
    """Return the reports as CSV: one row per figure, the columns of ``report_rows``."""
    rows = report_rows(reports)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
