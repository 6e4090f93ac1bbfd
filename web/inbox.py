"""The knowledge-gap inbox's queries: every failure signal of the last days, read from the events and grouped."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

import sqlalchemy as sa
from flask import current_app

from analytics.gaps import Signal, group_signals, typed_further
from web.events import CLICK_CHANNELS
from web.extensions import db
from web.inputs import clean_text
from web.models import Event, utcnow
from web.state import knowledge

# A search younger than this may still get its click.
NO_CLICK_AFTER = dt.timedelta(minutes=10)


# A clarifying question's answer is the session's next question within this time.
CLARIFY_FOLLOW_UP = dt.timedelta(minutes=30)


# A search followed this soon by a longer one that starts with it was typed further (search as you type).
TYPING_PAUSE = dt.timedelta(seconds=30)


def failure_events(days: int) -> list[Event]:
    """Return the events of the last ``days`` days that signal a gap, newest first."""
    config, now = current_app.config, utcnow()
    clicks = sa.orm.aliased(Event)
    clicked = sa.exists().where(clicks.kind == "click", clicks.ref == Event.ref)
    failure = sa.or_(
        sa.and_(
            Event.kind == "ask",
            sa.or_(Event.fallback.is_(True), Event.clarify.is_(True), Event.confidence < config["GAP_LOW_CONFIDENCE"]),
        ),
        sa.and_(Event.kind == "search", Event.results == 0),
        sa.and_(
            Event.kind == "search",
            Event.results > 0,
            Event.ref.is_not(None),
            Event.channel.in_(CLICK_CHANNELS),
            Event.at < now - NO_CLICK_AFTER,
            ~clicked,
        ),
        sa.and_(Event.kind == "vote", Event.helpful.is_(False)),
    )
    query = sa.select(Event).where(Event.at >= now - dt.timedelta(days=days), failure)
    return list(db.session.execute(query.order_by(Event.at.desc()).limit(config["GAP_MAX_SIGNALS"])).scalars())


def session_questions(sessions: set[str], since: dt.datetime) -> dict[str, list[Event]]:
    """Return the questions asked in each session since a time, oldest first."""
    found: dict[str, list[Event]] = defaultdict(list)
    names = sorted(sessions)
    for start in range(0, len(names), 500):
        query = sa.select(Event).where(
            Event.kind == "ask", Event.session.in_(names[start : start + 500]), Event.at >= since
        )
        for event in db.session.execute(query.order_by(Event.at)).scalars():
            found[event.session].append(event)
    return found


def to_signal(event: Event, asked: dict[str, list[Event]], titles: dict[str, str]) -> Signal:
    """Say what kind of gap an event shows, with the question it concerns."""
    if event.kind == "search":
        return Signal("zero_results" if event.results == 0 else "no_click", event.text or "", event.at)
    if event.kind == "vote":
        earlier = [a for a in asked.get(event.session or "", []) if a.at <= event.at and a.intent == event.intent]
        question = event.text or (earlier[-1].text if earlier else None)
        if not question:
            question = (
                f"Article: {titles.get(event.target, event.target)}"
                if event.target
                else f"Answer: {knowledge().base.responses.label(event.intent or '')}"
            )
        return Signal("not_helpful", question, event.at, intent=event.intent, reason=event.reason)
    if event.fallback:
        return Signal("fallback", event.text or "", event.at, intent=event.intent)
    if event.clarify:
        later = [a for a in asked.get(event.session or "", []) if event.at < a.at <= event.at + CLARIFY_FOLLOW_UP]
        picked = later[0].intent if later and not later[0].fallback else None
        return Signal("clarify", event.text or "", event.at, intent=event.intent, picked=picked)
    return Signal("low_confidence", event.text or "", event.at, intent=event.intent)


def without_typing_steps(events: list[Event]) -> list[Event]:
    """Leave out searches that found nothing, or were not opened, only because the person was still typing."""
    empty = [e for e in events if e.kind == "search"]
    if not empty:
        return events
    query = sa.select(Event.channel, Event.at, Event.text).where(
        Event.kind == "search",
        Event.at >= min(e.at for e in empty),
        Event.at <= max(e.at for e in empty) + TYPING_PAUSE,
    )
    later = defaultdict(list)
    for channel, at, text in db.session.execute(query.order_by(Event.at)):
        later[channel].append((at, text or ""))
    steps = {id(e) for e in empty if typed_further(e.text or "", e.at, later[e.channel], TYPING_PAUSE)}
    return [e for e in events if id(e) not in steps]


def knowledge_gaps(days: int):
    """Group the failure signals of the last ``days`` days, the largest groups first."""
    events = without_typing_steps(failure_events(days))
    sessions = {e.session for e in events if e.session and (e.kind == "vote" or e.clarify)}
    asked = session_questions(sessions, utcnow() - dt.timedelta(days=days + 1)) if sessions else {}
    titles = {slug: a.title for slug, a in knowledge().base.library.articles.items()}
    base = knowledge().base
    # Events stored before text was cleaned where it comes in may still hold direction overrides.
    signals = [dataclasses.replace(s, text=clean_text(s.text)) for s in (to_signal(e, asked, titles) for e in events)]
    return group_signals(signals, base.normalizer.normalize, base.lexicon.canonical)
