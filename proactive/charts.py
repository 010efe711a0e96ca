"""Charts as inline SVG for reports (the ethics report now; the backtest report and web UI later).

Built on pygal, which draws SVG in pure Python. Every chart comes out self-contained,
ready to be pasted into an HTML page that must work offline:

* no script: pygal writes an inline ``<script>`` with its configuration for optional
  tooltips; an XML filter removes it (and pygal's banner comments), so a page can
  forbid scripts altogether;
* no external CSS or fonts: the style uses a system font stack, never a web font;
* sized by its ``viewBox`` only, so the page's CSS sets the width;
* pygal's tooltip data becomes SVG ``<title>`` elements: the browser shows them on
  hover, without script.

Labels and titles are escaped by pygal's XML serialiser, so a rule id or a segment
value cannot inject markup.

Example::

    svg = histogram_svg([0, 0, 1, 3, 5, 8, 20, 40, 60, 100], title="overall score")
    html = f"<figure>{svg}</figure>"
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pygal  # type: ignore[import-untyped]
from pygal.style import Style  # type: ignore[import-untyped]

# pygal appends a legacy import hook to sys.meta_path (for its map plugins, which we do
# not use) that has find_module but no find_spec: from then on every import that fails
# anywhere in the process — an optional dependency probed in a try block, such as
# pydantic.v1 probing for cython when FastAPI builds its routes — raises an
# ImportWarning, an error under this repo's pytest settings. Take the hook out again.
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

VERDICT_COLOURS: Mapping[str, str] = {
    "send": "#2e7d32",
    "defer": "#1565c0",
    "review": "#ef8f00",
    "block": "#c62828",
}
"""One colour per verdict, the same in every chart and table."""

SCORE_COLOUR = "#455a64"
"""Bars of score distributions."""

_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
_FALLBACK_COLOURS = ("#455a64", "#8e24aa", "#00897b", "#6d4c41", "#3949ab", "#c0ca33")


def _style(colours: Sequence[str]) -> Any:
    return Style(
        background="transparent",
        plot_background="transparent",
        foreground="#222",
        foreground_strong="#111",
        foreground_subtle="#bbb",
        font_family=_FONT,
        label_font_family=_FONT,
        major_label_font_family=_FONT,
        value_font_family=_FONT,
        value_label_font_family=_FONT,
        title_font_family=_FONT,
        legend_font_family=_FONT,
        tooltip_font_family=_FONT,
        no_data_font_family=_FONT,
        no_data_font_size=14,
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        title_font_size=13,
        colors=tuple(colours) or _FALLBACK_COLOURS,
        opacity=".9",
        opacity_hover=".9",
        transition="0ms",
    )


def _empty_bar(element: Any) -> bool:
    """A bar of zero length: pygal draws it anyway (a stacked chart has many)."""
    if element.get("class") != "bar":
        return False
    for rect in element:
        if str(rect.tag).endswith("rect"):
            return any(float(rect.get(side) or 0) == 0 for side in ("width", "height"))
    return False


def _name(element: Any) -> str:
    """The local tag name; "" for comments and processing instructions, whose tag is a
    function in both xml.etree and lxml (pygal uses lxml when it is installed)."""
    tag = element.tag
    return "" if callable(tag) else str(tag).rsplit("}", 1)[-1]


def _self_contained(label: str) -> Callable[[Any], Any]:
    """An XML filter: drop scripts, comments and empty bars; tooltips as <title>."""

    def apply(root: Any) -> Any:
        for parent in list(root.iter()):
            for child in list(parent):
                if _name(child) in ("", "script") or _empty_bar(child):
                    parent.remove(child)
            # pygal's <desc> elements feed its script tooltips (value, label, x/y of the
            # tooltip); keep value and label as a <title>, the browser's own tooltip
            # without script, and drop the rest: a third of the SVG's size
            descs = [c for c in parent if _name(c) == "desc"]
            if not descs:
                continue
            text = {d.get("class"): d.text for d in descs}
            for d in descs:
                parent.remove(d)
            if text.get("value"):
                tip = parent.makeelement(str(descs[0].tag).replace("desc", "title"), {})
                x_label = text.get("x_label")
                tip.text = f"{x_label}: {text['value']}" if x_label else text["value"]
                parent.insert(0, tip)
        for child in root:
            if _name(child) == "title":
                child.text = label
        root.set("role", "img")
        root.set("aria-label", label)
        return root

    return apply


def _options(label: str, colours: Sequence[str], **extra: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "js": [],
        "disable_xml_declaration": True,
        "style": _style(colours),
        "no_data_text": "no data",
        "show_legend": False,
        "print_values": False,
        "margin": 8,
        "spacing": 6,
    }
    options.update(extra)
    return options


def _chart(kind: Any, label: str, colours: Sequence[str], **extra: Any) -> Any:
    chart = kind(**_options(label, colours, **extra))
    chart.add_xml_filter(_self_contained(label))
    return chart


def _render(chart: Any) -> str:
    return str(chart.render(is_unicode=True))


def bin_labels(bins: int, lo: float = 0.0, hi: float = 1.0) -> list[str]:
    """Lower edges of ``bins`` equal bins over ``lo..hi``, as labels ("0.0", "0.1", …)."""
    width = (hi - lo) / bins
    return [f"{lo + i * width:.1f}" for i in range(bins)]


def histogram_svg(
    counts: Sequence[int],
    *,
    title: str,
    lo: float = 0.0,
    hi: float = 1.0,
    colour: str = SCORE_COLOUR,
    width: int = 360,
    height: int = 180,
) -> str:
    """A histogram of counts in equal bins over ``lo..hi`` (scores: 0..1).

    ``counts[i]`` is the number of values in bin ``i``; the chart's x axis shows the
    bin edges, the y axis the counts.
    """
    bins = len(counts)
    step = (hi - lo) / bins if bins else 0.0
    chart = _chart(
        pygal.Histogram,
        title,
        [colour],
        width=width,
        height=height,
        title=title,
        x_labels=[round(lo + i * step, 2) for i in range(bins + 1)],
        min_scale=2,
        max_scale=5,
    )
    chart.add(
        "decisions",
        [(n, round(lo + i * step, 4), round(lo + (i + 1) * step, 4)) for i, n in enumerate(counts)],
    )
    return _render(chart)


SCORE_BAND_COLOURS = (
    "#a50026",
    "#d73027",
    "#f46d43",
    "#fdae61",
    "#fee08b",
    "#d9ef8b",
    "#a6d96a",
    "#66bd63",
    "#1a9850",
    "#006837",
)
"""Ten bins from 0 (red) to 1 (green), ColorBrewer RdYlGn."""


def distribution_bars_svg(
    rows: Mapping[str, Sequence[int]],
    *,
    title: str,
    width: int = 560,
    height: int | None = None,
) -> str:
    """Several histograms in one chart: a 100% bar per row, split by score bin.

    ``rows[name][i]`` is the number of values of ``name`` in bin ``i`` of equal bins
    over 0..1 (all rows the same number of bins, up to ten). One chart per rule keeps
    a page small where a chart per dimension would repeat pygal's stylesheet many
    times; a skewed distribution still shows its low tail as thin coloured slivers.
    """
    # a horizontal chart draws its first label at the bottom: reverse to read top-down
    names = list(reversed(list(rows)))
    bins = max((len(c) for c in rows.values()), default=0)
    if bins > len(SCORE_BAND_COLOURS):
        raise ValueError(f"at most {len(SCORE_BAND_COLOURS)} bins, got {bins}")
    # pick colours spread over the palette, so fewer bins still run red to green
    palette = [SCORE_BAND_COLOURS[round(i * 9 / max(1, bins - 1))] for i in range(bins)]
    labels = bin_labels(bins) if bins else []
    chart = _chart(
        pygal.HorizontalStackedBar,
        title,
        palette,
        width=width,
        height=height or 70 + 26 * len(names),
        show_legend=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=max(1, (bins + 1) // 2),
        legend_box_size=10,
        x_labels=names,
        range=(0, 1),
        value_formatter=lambda v: f"{v:.0%}",
        spacing=2,
    )
    totals = [sum(rows[n]) for n in names]
    for i in range(bins):
        chart.add(
            f"≥{labels[i]}",
            [
                # None draws nothing, where 0 would still add an empty bar to the SVG
                (rows[n][i] / t if t and i < len(rows[n]) and rows[n][i] else None)
                for n, t in zip(names, totals, strict=True)
            ],
        )
    return _render(chart)


def stacked_share_svg(
    parts: Mapping[str, int],
    *,
    title: str,
    colours: Mapping[str, str] = VERDICT_COLOURS,
    width: int = 520,
    height: int = 90,
) -> str:
    """One horizontal bar split into parts (e.g. verdict counts), with a legend."""
    names = list(parts)
    chart = _chart(
        pygal.HorizontalStackedBar,
        title,
        _colours(names, colours),
        width=width,
        height=height,
        show_legend=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=max(1, len(names)),
        show_y_labels=False,
        # the legend carries the counts; axis labels would collide with it
        show_x_labels=False,
        show_x_guides=False,
        show_y_guides=False,
        spacing=2,
    )
    for name in names:
        chart.add(f"{name} {parts[name]}", [parts[name]])
    return _render(chart)


def _colours(names: Sequence[str], colours: Mapping[str, str]) -> list[str]:
    """The colour of each series: its own, or the next fallback colour."""
    return [
        colours.get(n, _FALLBACK_COLOURS[i % len(_FALLBACK_COLOURS)]) for i, n in enumerate(names)
    ]


def grouped_bars_svg(
    groups: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    colours: Mapping[str, str] = VERDICT_COLOURS,
    percent: bool = True,
    width: int = 560,
    height: int = 240,
) -> str:
    """Bars per group, one series per measure (e.g. send/review/block rate per age band).

    ``series[name][i]`` belongs to ``groups[i]``; None leaves a gap. With ``percent``
    the values are shares (0..1) shown as percentages.
    """
    names = list(series)
    chart = _chart(
        pygal.Bar,
        title,
        _colours(names, colours),
        width=width,
        height=height,
        show_legend=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=max(1, len(names)),
        x_labels=list(groups),
        x_label_rotation=-20 if max((len(g) for g in groups), default=0) > 10 else 0,
        range=(0, 1) if percent else None,
        value_formatter=(lambda v: f"{v:.0%}") if percent else (lambda v: f"{v:.2f}"),
    )
    for name in names:
        chart.add(name, list(series[name]))
    return _render(chart)


def score_bars_svg(
    scores: Mapping[str, float | None],
    *,
    title: str,
    width: int = 520,
    height: int | None = None,
) -> str:
    """One horizontal bar per score on a 0..1 axis (e.g. the eight dimensions of a decision).

    Each bar takes the colour of its score band (red for low, green for high, as in
    :func:`distribution_bars_svg`); a None score draws no bar. Each label carries its
    value ("place 0.65"), so the chart reads without colour too.
    """
    # a horizontal chart draws its first label at the bottom: reverse to read top-down
    names = list(reversed(list(scores)))
    labels = [f"{n} {'–' if scores[n] is None else format(scores[n], '.2f')}" for n in names]
    chart = _chart(
        pygal.HorizontalBar,
        title,
        [SCORE_COLOUR],
        width=width,
        height=height or 50 + 28 * len(names),
        x_labels=labels,
        range=(0, 1),
        value_formatter=lambda v: f"{v:.2f}",
        spacing=2,
    )
    values: list[dict[str, Any] | None] = []
    for name in names:
        v = scores[name]
        if v is None:
            values.append(None)
            continue
        band = SCORE_BAND_COLOURS[min(len(SCORE_BAND_COLOURS) - 1, max(0, int(v * 10)))]
        values.append({"value": float(v), "color": band})
    chart.add("score", values)
    return _render(chart)


def verdicts_over_time_svg(
    periods: Sequence[str],
    counts: Mapping[str, Sequence[int]],
    *,
    title: str,
    colours: Mapping[str, str] = VERDICT_COLOURS,
    width: int = 620,
    height: int = 240,
) -> str:
    """Stacked bars of verdict counts per period (a day or a week), oldest on the left.

    ``counts[verdict][i]`` belongs to ``periods[i]``. With many periods only every n-th
    label is written, so they do not overlap.
    """
    names = list(counts)
    every = max(1, len(periods) // 12)
    chart = _chart(
        pygal.StackedBar,
        title,
        _colours(names, colours),
        width=width,
        height=height,
        show_legend=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=max(1, len(names)),
        x_labels=list(periods),
        x_labels_major_every=every,
        show_minor_x_labels=every == 1,
        x_label_rotation=-30 if len(periods) > 6 else 0,
        min_scale=2,
        max_scale=6,
    )
    for name in names:
        # None draws nothing, where 0 would still add an empty bar to the SVG
        chart.add(name, [n or None for n in counts[name]])
    return _render(chart)
