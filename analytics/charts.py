"""Chart geometry for server-rendered SVG: numbers in, coordinates out; templates draw them.

Charts are drawn by the page template as inline ``<svg>`` with ``<rect>`` and
``<polyline>`` elements, coloured by CSS classes, so nothing comes from another host and
no script or style attribute is needed. Every chart has a data table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SERIES_CLASSES = 6  # templates style .series-0 … .series-5


@dataclass(frozen=True)
class Segment:
    """One coloured part of a bar."""

    x: float
    width: float
    value: float
    css_class: str


@dataclass(frozen=True)
class Bar:
    """One row of a horizontal bar chart, its segments stacked left to right."""

    label: str
    y: float
    height: float
    segments: tuple[Segment, ...]
    total: float
    value_text: str
    text_x: float


@dataclass(frozen=True)
class BarChart:
    """A horizontal (maybe stacked) bar chart."""

    width: int
    height: int
    label_width: int
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Point:
    """One point of a line, with what it stands for."""

    x: float
    y: float
    value: float
    label: str


@dataclass(frozen=True)
class Line:
    """One series of a line chart."""

    name: str
    css_class: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        """Return the points as an SVG ``points`` attribute."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Tick:
    """An axis label at a position."""

    position: float
    text: str


@dataclass(frozen=True)
class LineChart:
    """A line chart over days: plot area, lines and axis labels."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


def nice_ceiling(value: float) -> float:
    """Round a maximum up to 1, 2 or 5 times a power of ten, so axis labels read well."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def format_number(value: float, percent: bool = False) -> str:
    """Write a value as a person would read it on a chart."""
    if percent:
        return f"{value * 100:.0f}%"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def bar_chart(
    rows: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 560,
    bar_height: int = 22,
    gap: int = 8,
    label_width: int = 220,
    value_width: int = 100,
    value_texts: Sequence[str] | None = None,
) -> BarChart:
    """Lay out horizontal bars; each row is (label, values), stacked when there are several values.

    ``value_texts`` replaces the total written after each bar (say, "80% helpful").
    """
    plot = width - label_width - value_width
    maximum = max((sum(values) for _, values in rows), default=0.0)
    scale = plot / maximum if maximum > 0 else 0.0
    bars = []
    for index, (label, values) in enumerate(rows):
        x, segments = float(label_width), []
        for part, value in enumerate(values):
            segments.append(Segment(x, value * scale, float(value), f"series-{part % SERIES_CLASSES}"))
            x += value * scale
        total = float(sum(values))
        text = value_texts[index] if value_texts else format_number(total)
        bars.append(Bar(label, index * (bar_height + gap), bar_height, tuple(segments), total, text, x + 6))
    height = max(1, len(rows) * (bar_height + gap) - gap)
    return BarChart(width, height, label_width, tuple(bars))


def line_chart(
    days: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 560,
    height: int = 220,
    percent: bool = False,
    max_x_ticks: int = 7,
) -> LineChart:
    """Lay out one line per series over ``days`` (labels of the x axis), from zero up."""
    left, right, top, bottom = 44, 12, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    maximum = max((v for _, values in series for v in values), default=0.0)
    ceiling = 1.0 if percent and maximum <= 1 else nice_ceiling(maximum)
    step_x = plot_w / (len(days) - 1) if len(days) > 1 else 0.0

    def x_at(i: int) -> float:
        return left + (i * step_x if len(days) > 1 else plot_w / 2)

    def y_at(v: float) -> float:
        return top + plot_h - (v / ceiling) * plot_h

    lines = tuple(
        Line(
            name,
            f"series-{n % SERIES_CLASSES}",
            tuple(Point(x_at(i), y_at(v), float(v), days[i]) for i, v in enumerate(values)),
        )
        for n, (name, values) in enumerate(series)
    )
    every = max(1, math.ceil(len(days) / max_x_ticks))
    x_ticks = tuple(Tick(x_at(i), day) for i, day in enumerate(days) if i % every == 0)
    y_ticks = tuple(Tick(y_at(ceiling * k / 4), format_number(ceiling * k / 4, percent)) for k in range(5))
    return LineChart(width, height, left, top, width - right, height - bottom, lines, x_ticks, y_ticks)
