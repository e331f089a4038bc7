"""Charts drawn on the server: the geometry of a line chart, a bar chart and rows of stacked bars,
which one Jinja macro file (templates/dashboards/_charts.html) writes as inline SVG.

No JavaScript and no inline style: the Content-Security-Policy allows neither, so every colour
and dash is a class in static/css/app.css (`series-0` … `series-7`, `part-0` … `part-2`). Every
text (labels typed by study authors included) reaches the page through Jinja's autoescaping,
never as markup built here. The page puts a table of the same numbers beside each chart: the
drawing is for the eye, the table for everyone (WCAG 1.1.1, 1.4.1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

#: The drawing's coordinate space (the SVG scales to its box; text keeps this size).
WIDTH = 720
#: Distinct line classes; more series than this reuse them (with their own end labels).
SERIES = 8


@dataclass(frozen=True)
class Plot:
    """The drawing's size and the plot area inside it (axes on its left and bottom edges)."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True)
class Tick:
    at: float  # x for the horizontal axis, y for the vertical one
    label: str


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    points: str  # "x,y x,y …" for <polyline>
    dots: tuple[tuple[float, float], ...]
    last: int
    label_y: float = 0.0  # where its end label goes: apart from the others' (13 px text)


@dataclass(frozen=True)
class LineChart:
    plot: Plot
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    plot: Plot
    y_ticks: tuple[Tick, ...]
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Segment:
    part: int  # which part of the whole (its class `part-N`)
    value: int
    x: float
    width: float


@dataclass(frozen=True)
class StackRow:
    label: str
    y: float
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class StackChart:
    """Rows of bars, each a whole (100 %) split into its parts."""

    plot: Plot
    x_ticks: tuple[Tick, ...]
    rows: tuple[StackRow, ...]
    bar_height: float


def nice_step(largest: float, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 × 10^k, at least 1) so that about `ticks` steps reach `largest`."""
    raw = max(largest / ticks, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def _value_axis(largest: int) -> tuple[int, list[int]]:
    """The top of a count axis and its tick values, from 0."""
    step = nice_step(largest)
    top = max(step, -(-largest // step) * step)
    return top, list(range(0, top + 1, step))


def line_chart(categories: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> LineChart:
    """One line per series over evenly spaced categories (e.g. months); every `k`-th category
    is labelled so that at most twelve labels share the axis."""
    plot = Plot(WIDTH, 300, 56, 16, WIDTH - 90, 300 - 48)
    top, values = _value_axis(max((max(v, default=0) for _n, v in series), default=0))
    n = max(len(categories), 1)

    def x(i: int) -> float:
        span = plot.right - plot.left
        return plot.left + (span * (i + 0.5) / n)

    def y(v: int) -> float:
        return plot.bottom - (plot.bottom - plot.top) * v / top

    every = max(1, -(-len(categories) // 12))
    x_ticks = tuple(Tick(x(i), c) for i, c in enumerate(categories) if i % every == 0)
    y_ticks = tuple(Tick(y(v), str(v)) for v in values)
    lines = []
    for k, (name, counts) in enumerate(series):
        dots = tuple((round(x(i), 1), round(y(v), 1)) for i, v in enumerate(counts))
        points = " ".join(f"{a},{b}" for a, b in dots)
        lines.append(Line(name, f"series-{k % SERIES}", points, dots, counts[-1] if counts else 0))
    return LineChart(plot, x_ticks, y_ticks, _apart(lines))


def _apart(lines: list[Line], gap: float = 15) -> tuple[Line, ...]:
    """The lines with their end labels moved down, where needed, so that none overlaps another
    (lines ending at the same value would otherwise print their names on top of each other)."""
    placed: dict[int, float] = {}
    below = -gap
    for i in sorted(range(len(lines)), key=lambda i: lines[i].dots[-1][1] if lines[i].dots else 0):
        y = lines[i].dots[-1][1] if lines[i].dots else 0
        below = max(y, below + gap)
        placed[i] = below
    return tuple(replace(line, label_y=placed[i] + 4) for i, line in enumerate(lines))


def bar_chart(bars: Sequence[tuple[str, int]]) -> BarChart:
    """Vertical bars, one per category, on a count axis from 0."""
    plot = Plot(WIDTH, 280, 56, 24, WIDTH - 24, 280 - 48)
    top, values = _value_axis(max((v for _l, v in bars), default=0))
    slot = (plot.right - plot.left) / max(len(bars), 1)
    height = plot.bottom - plot.top
    drawn = tuple(
        Bar(
            label,
            value,
            round(plot.left + slot * (i + 0.2), 1),
            round(plot.bottom - height * value / top, 1),
            round(slot * 0.6, 1),
            round(height * value / top, 1),
        )
        for i, (label, value) in enumerate(bars)
    )
    y_ticks = tuple(Tick(plot.bottom - height * v / top, str(v)) for v in values)
    return BarChart(plot, y_ticks, drawn)


def stack_chart(rows: Sequence[tuple[str, Sequence[int]]]) -> StackChart:
    """One bar per row (label, parts), each as wide as the plot: its parts' shares
    of the row's total, side by side. A row with nothing in it draws no bar."""
    row_height, bar_height = 56, 20
    left, right, top = 16, WIDTH - 40, 8
    height = top + row_height * max(len(rows), 1) + 36
    plot = Plot(WIDTH, height, left, top, right, height - 36)
    span = right - left
    drawn = []
    for i, (label, parts) in enumerate(rows):
        total, x, segments = sum(parts), float(left), []
        for part, value in enumerate(parts):
            if total and value:
                width = span * value / total
                segments.append(Segment(part, value, round(x, 1), round(width, 1)))
                x += width
        drawn.append(StackRow(label, top + row_height * i + 30, tuple(segments)))
    x_ticks = tuple(Tick(left + span * p / 100, f"{p} %") for p in (0, 25, 50, 75, 100))
    return StackChart(plot, x_ticks, tuple(drawn), bar_height)
