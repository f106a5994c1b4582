"""Figures that ran together (flows/intake/runs.py): any row of valid figures joined without
separators is cut back to the same figures, or said to be ambiguous with the true reading among
the candidates, never read wrongly as one reading."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.format.edition import edition_named
from flows.intake.runs import cut_run, fits, identity, readings

APPLICATIONS = edition_named("2021").tables["applications"]
REVIEW = edition_named("2021").tables["review_litigation"]
PROACTIVE_2019 = edition_named("2019").tables["proactive_disclosure"]
COUNT = APPLICATIONS.columns[0]


def _ints(reading):
    return [int(x) for x in reading]


def _adds_up(table):
    holds = identity(table.code)
    return lambda reading: holds(_ints(reading))


counts = st.integers(min_value=0, max_value=300)


@st.composite
def joined_rows(draw, consistent: bool):
    """A row of table 三 (seven counts), its cells joined in random places."""
    parts = draw(st.lists(counts, min_size=6, max_size=6))
    total = sum(parts) if consistent else draw(counts)
    figures = [str(x) for x in (*parts, total)]
    joins = draw(st.lists(st.booleans(), min_size=6, max_size=6))
    tokens, current = [], figures[0]
    for figure, join in zip(figures[1:], joins, strict=True):
        if join:
            current += figure
        else:
            tokens.append(current)
            current = figure
    tokens.append(current)
    return tuple(figures), tokens


@settings(max_examples=100, deadline=None)
@given(joined_rows(consistent=True))
def test_a_row_that_adds_up_is_cut_back_or_called_ambiguous(row):
    truth, tokens = row
    cut = cut_run(tokens, APPLICATIONS.columns, _adds_up(APPLICATIONS))
    if cut.reading is not None:
        assert cut.reading == truth
    else:
        assert truth in cut.candidates or len(readings(tokens, APPLICATIONS.columns)) > len(cut.candidates)


@settings(max_examples=100, deadline=None)
@given(joined_rows(consistent=False))
def test_a_row_with_an_error_is_never_read_wrongly_without_a_word(row):
    """Where the row does not add up, a reading chosen because it does is said (chosen_by), and the
    true reading is among the candidates it names."""
    truth, tokens = row
    cut = cut_run(tokens, APPLICATIONS.columns, _adds_up(APPLICATIONS))
    if cut.reading is not None and cut.reading != truth:
        assert cut.chosen_by == "identity"
        assert truth in cut.candidates
    if cut.reading is None and cut.candidates and len(cut.candidates) < 24:
        assert truth in cut.candidates


@settings(max_examples=100, deadline=None)
@given(st.lists(counts, min_size=7, max_size=7), st.data())
def test_quoted_figures_never_make_a_wrong_reading(parts, data):
    figures = tuple(str(x) for x in parts)
    tokens = ["".join(figures)]
    quoted = frozenset(figures)
    cut = cut_run(tokens, APPLICATIONS.columns, None, quoted)
    assert cut.reading in (None, figures)
    if cut.reading is None and len(cut.candidates) < 24:
        assert figures in cut.candidates


def test_the_format_cuts_34089_into_34_0_89_only_with_the_row_that_adds_up():
    columns = APPLICATIONS.columns[:3]
    found = readings(["34089"], columns)
    assert ("34", "0", "89") in found and ("34", "08", "9") not in found  # no count starts with 0


def test_counts_have_no_leading_zero_and_only_the_change_a_sign():
    change = PROACTIVE_2019.columns[PROACTIVE_2019.column_index["change"]]
    amount = PROACTIVE_2019.columns[PROACTIVE_2019.column_index["amount"]]
    assert not fits("08", COUNT) and fits("0", COUNT) and not fits("-4", COUNT)
    assert fits("-417", change) and fits("+19", change)
    assert fits("8040.5", amount) and not fits("1.5", COUNT)


def test_a_run_of_the_2019_licensing_row_is_cut_at_its_sign():
    columns = [
        PROACTIVE_2019.columns[PROACTIVE_2019.column_index[c]] for c in ("previous_items", "change", "decisions")
    ]
    cut = cut_run(["716-417298"], columns)
    assert cut.ambiguous and ("716", "-417", "298") in cut.candidates
    assert cut_run(["716", "-417298"], columns).ambiguous  # 4|17298 or 41|7298 …: never a silent pick


def test_table_four_is_cut_by_its_three_totals():
    figures = ("1", "0", "0", "0", "1", "0", "0", "0", "0", "0", "12", "0", "0", "0", "12")
    cut = cut_run(["".join(figures)], REVIEW.columns, _adds_up(REVIEW))
    assert cut.reading == figures or (cut.reading is None and figures in cut.candidates)
    assert cut_run(["0" * 15], REVIEW.columns).reading == ("0",) * 15
