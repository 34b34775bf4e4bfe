"""The regulator dashboards' SVG charts: well-formed, accessible, proportional, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from medledger.portal.charts import Bar, bar_chart, column_chart

SVG = "{http://www.w3.org/2000/svg}"


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def _rect_widths(root: ET.Element) -> list[float]:
    return [float(r.get("width", "0")) for r in root.iter(f"{SVG}rect")]


def test_bar_lengths_are_proportional_to_the_figures() -> None:
    bars = [Bar("hospital", 8), Bar("distributor", 4), Bar("regulator", 1)]
    root = _parse(bar_chart(bars, chart_id="roles", title="Members by role"))
    widths = _rect_widths(root)
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.1)
    assert widths[1] == pytest.approx(4 * widths[2], abs=0.5)


def test_a_chart_names_itself_and_lists_every_figure_for_screen_readers() -> None:
    bars = [Bar("in transit", 3, "3"), Bar("received", 12, "12")]
    root = _parse(bar_chart(bars, chart_id="ship", title="Shipments"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "ship-t ship-d"
    assert root.find(f"{SVG}title").text == "Shipments"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "in transit: 3; received: 12"  # type: ignore[union-attr]


def test_labels_are_escaped() -> None:
    markup = bar_chart([Bar("<script>x</script>", 1)], chart_id="c", title="a & b")
    assert "<script>" not in markup
    _parse(markup)  # still well-formed


def test_a_zero_figure_draws_no_bar_and_an_empty_chart_says_so() -> None:
    root = _parse(bar_chart([Bar("none", 0), Bar("some", 5)], chart_id="z", title="t"))
    assert _rect_widths(root)[0] == 0
    empty = bar_chart([], chart_id="e", title="t", empty="no data")
    assert "no data" in empty


def test_columns_rise_with_the_series_and_labels_do_not_crowd() -> None:
    days = [Bar(f"11-{d:02d}", d) for d in range(1, 31)]
    root = _parse(column_chart(days, chart_id="days", title="Shipments per day"))
    heights = [float(r.get("height", "0")) for r in root.iter(f"{SVG}rect")]
    assert heights == sorted(heights) and heights[-1] > heights[0]
    labels = [t.text for t in root.iter(f"{SVG}text") if t.text and t.text.startswith("11-")]
    assert "11-01" in labels and len(labels) < 30
