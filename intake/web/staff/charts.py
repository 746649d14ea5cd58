"""Bar charts drawn on the server as SVG: no script, nothing from elsewhere, fine under the CSP."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str  # the value as people read it: '12 min', '40%', '7'
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    horizontal: bool


LABEL_WIDTH = 190  # horizontal charts: room for the labels on the left
VALUE_WIDTH = 80  # and for the values on the right


def horizontal(title: str, items: list[tuple[str, float, str]], width: int = 640) -> Chart:
    """One bar a row: (label, value, shown). Bars share one scale, the longest filling the row."""
    step, thick = 30, 22
    top = max((v for _, v, _ in items), default=0) or 1
    room = width - LABEL_WIDTH - VALUE_WIDTH
    bars = [
        Bar(label, shown, LABEL_WIDTH, i * step + 4, max(room * value / top, 0), thick)
        for i, (label, value, shown) in enumerate(items)
    ]
    return Chart(title, width, len(items) * step + 8, bars, True)


def vertical(title: str, items: list[tuple[str, float, str]], height: int = 180) -> Chart:
    """One column a label (hours of the day): (label, value, shown)."""
    step, thick, base = 28, 20, height - 20
    top = max((v for _, v, _ in items), default=0) or 1
    bars = []
    for i, (label, value, shown) in enumerate(items):
        h = (base - 16) * value / top
        bars.append(Bar(label, shown, i * step + 4, base - h, thick, h))
    return Chart(title, len(items) * step + 8, height, bars, False)
