"""Bar charts drawn on the server as SVG: no script, readable without colour
(each bar carries its number), and named for screen readers. Pure: values in,
markup out. The pages show the same numbers in a table beside each chart."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

WIDTH = 520
LABEL = 170  # the labels' column
BAR = 26
GAP = 10
TOP = 8


def bars(title: str, items: Sequence[tuple[str, int]], *, show: Callable[[int], str] = str,
         chart_id: str) -> Markup:
    """A horizontal bar chart of ``items`` (label, value; negative values draw
    as empty bars), each bar's value written at its end by ``show``."""
    height = TOP * 2 + max(1, len(items)) * (BAR + GAP)
    top = max([v for _, v in items] + [1])
    room = WIDTH - LABEL - 90  # the value's text after the longest bar
    parts = [Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" '
        'width="{w}" height="{h}" role="img" aria-labelledby="{id}-title">'
        '<title id="{id}-title">{title}</title>').format(w=WIDTH, h=height, id=chart_id,
                                                          title=title)]
    for i, (label, value) in enumerate(items):
        y = TOP + i * (BAR + GAP)
        length = round(room * max(value, 0) / top)
        parts.append(Markup(
            '<text x="{lx}" y="{ty}" text-anchor="end" class="label">{label}</text>'
            '<rect x="{x}" y="{y}" width="{length}" height="{bar}" rx="3" class="bar"/>'
            '<text x="{vx}" y="{ty}" class="value">{value}</text>').format(
                lx=LABEL - 8, ty=y + BAR * 0.68, label=_short(label), x=LABEL, y=y,
                length=max(length, 1), bar=BAR, vx=LABEL + length + 6, value=show(value)))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _short(label: str, most: int = 22) -> Markup:
    return escape(label if len(label) <= most else label[:most - 1] + "…")
