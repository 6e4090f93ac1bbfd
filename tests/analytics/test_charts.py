"""Chart geometry: bars scale to the widest row, lines span the plot from zero up."""

import pytest

from analytics.charts import bar_chart, line_chart, nice_ceiling


def test_bars_scale_to_the_largest_total_and_stack_their_parts():
    chart = bar_chart([("a", [3, 1]), ("b", [2, 0])], width=500, label_width=100, value_width=100)
    a, b = chart.bars
    assert a.segments[0].width + a.segments[1].width == pytest.approx(300)  # the whole plot
    assert a.segments[1].x == pytest.approx(100 + 225)
    assert b.segments[0].width == pytest.approx(150)
    assert [s.css_class for s in a.segments] == ["series-0", "series-1"]
    assert a.value_text == "4" and b.y > a.y


def test_bar_texts_can_be_given_and_an_empty_chart_has_no_bars():
    assert bar_chart([("a", [1, 1])], value_texts=["50% helpful"]).bars[0].value_text == "50% helpful"
    assert bar_chart([]).bars == ()


def test_lines_run_from_the_left_to_the_right_edge_and_zero_sits_on_the_axis():
    chart = line_chart(["d1", "d2", "d3"], [("x", [0, 5, 10]), ("y", [2, 2, 2])], width=300, height=200)
    x = chart.lines[0].points
    assert x[0].x == chart.left and x[-1].x == pytest.approx(chart.right)
    assert x[0].y == pytest.approx(chart.bottom) and x[-1].y == pytest.approx(chart.top)
    assert chart.lines[0].path.count(",") == 3
    assert chart.y_ticks[-1].text == "10"


def test_percent_lines_top_out_at_one_hundred_percent():
    chart = line_chart(["d1", "d2"], [("rate", [0.1, 0.25])], percent=True)
    assert chart.y_ticks[-1].text == "100%"


@pytest.mark.parametrize("value, ceiling", [(0, 1), (3, 5), (7, 10), (12, 20), (0.3, 0.5)])
def test_axis_maximum_is_a_round_number(value, ceiling):
    assert nice_ceiling(value) == pytest.approx(ceiling)
