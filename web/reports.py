"""The reports' queries: the stored events counted by day, intent and vote target, for analytics.reports."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from analytics.reports import Reports, summarize
from web.extensions import db
from web.models import Event, utcnow
from web.state import knowledge


def build_reports(days: int) -> Reports:
    """Count the last ``days`` days' questions, fallbacks, searches and votes."""
    since_day = utcnow().date() - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(since_day, dt.time())
    day_list = tuple((since_day + dt.timedelta(days=n)).isoformat() for n in range(days))
    day = sa.func.date(Event.at)
    asked = db.session.execute(
        sa.select(day, Event.intent, Event.fallback, sa.func.count())
        .where(Event.kind == "ask", Event.at >= since)
        .group_by(day, Event.intent, Event.fallback)
    ).all()
    searches, zero_results = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((Event.results == 0, 1), else_=0)), 0)).where(
            Event.kind == "search", Event.at >= since
        )
    ).one()
    votes = db.session.execute(
        sa.select(Event.intent, Event.target, Event.helpful, sa.func.count())
        .where(Event.kind == "vote", Event.at >= since, Event.helpful.is_not(None))
        .group_by(Event.intent, Event.target, Event.helpful)
    ).all()
    return summarize(day_list, asked, searches, int(zero_results), votes, knowledge().base)
