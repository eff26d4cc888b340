"""Disclosure control for references (issue #14): no "alle gemeenten" figure lets a user
subtract what is in scope and recover what is not. Tested by doing the subtraction."""

import pandas as pd
import pytest
from sqlalchemy import select

from gka_dash import analysis, privacy, queries
from gka_dash.schema import observation
from gka_dash.scope import Scope

from .conftest import dutch
from .test_views import open_page

REGIO = Scope.of("GM9901", "GM9902")


def _rows(**weights) -> pd.DataFrame:
    return pd.DataFrame({"gemeente_code": list(weights), "n": list(weights.values()), "value": 50.0})


@pytest.mark.parametrize("outside, allowed", [
    ({"GM2": 100}, False),  # one other gemeente: total minus own is that gemeente
    ({"GM2": 100, "GM3": 100}, False),  # two: each knows the other's
    ({"GM2": 100, "GM3": 100, "GM4": 100}, True),
    ({"GM2": 1000, "GM3": 10, "GM4": 10}, False),  # one dominates what lies outside
    ({"GM2": 500, "GM3": 400, "GM4": 100, "GM5": 100}, True),  # the two largest hold 82 %
])
def test_a_reference_needs_three_others_none_dominant(outside, allowed):
    rows = _rows(GM1=300, **outside)
    everyone = [("alle", None)]
    assert privacy.allowed_references(rows, everyone, Scope.of("GM1")) == ({"alle"} if allowed else set())
    assert privacy.allowed_references(rows, everyone, Scope.everything()) == {"alle"}  # nothing lies outside


def test_references_seen_together_may_not_subtract_to_fewer_than_three():
    """All = own + four others; the peers are three of those four: each alone passes the rule,
    together "alle" minus the peers is the fourth gemeente. The peers are then withheld."""
    rows = _rows(GM1=300, GM2=100, GM3=100, GM4=100, GM5=100)
    groups = [("alle", None), ("peers", ("GM2", "GM3", "GM4")), ("gka", ("GM2", "GM3", "GM4", "GM5"))]
    # The GKA group outside GM1 is all four: it cuts nothing finer and may be shown.
    assert privacy.allowed_references(rows, groups, Scope.of("GM1")) == {"alle", "gka"}
    wide = _rows(GM1=300, **{f"GM{i}": 100 for i in range(2, 12)})
    groups = [("alle", None), ("peers", tuple(f"GM{i}" for i in range(2, 7)))]
    assert privacy.allowed_references(wide, groups, Scope.of("GM1")) == {"alle", "peers"}


def _isolable(groups: list[set], outside: list[str]) -> list[str]:
    """The gemeenten whose own total follows from the groups' totals by adding and subtracting
    (an attacker who knows every n): those whose indicator vector lies in the groups' span."""
    import numpy as np
    if not groups:
        return []
    matrix = np.array([[1.0 if g in group else 0.0 for g in outside] for group in groups])
    found = []
    for i, g in enumerate(outside):
        target = np.zeros(len(outside))
        target[i] = 1.0
        solution, *_ = np.linalg.lstsq(matrix.T, target, rcond=None)
        if np.allclose(matrix.T @ solution, target, atol=1e-9):
            found.append(g)
    return found


@pytest.mark.parametrize("username, own", [("veenhaven", ("GM9901",)), ("grootzeestad", ("GM9905",)),
                                            ("waldersum", ("GM9903",)), ("regio", ("GM9901", "GM9902"))])
def test_no_gemeente_follows_from_the_references_a_user_sees_together(demo_engine, username, own):
    """The attack of issue #23: combine every reference shown to one user for one figure (all
    gemeenten, the GKA gemeenten, the peers, of every gemeente in the scope) and solve for one
    other gemeente's figure. With exact totals, as the attacker had them, none comes out."""
    scope = Scope.of(*own)
    for gemeente in own:
        for figure in queries.key_figures(demo_engine, scope, gemeente):
            level = queries._figure_level(demo_engine, scope, gemeente, queries.registry.get(figure["key"]))
            rows = queries._reference_rows(demo_engine, figure["key"], figure["period"], level, figure["group"])
            outside = sorted(set(rows["gemeente_code"]) - set(own))
            shown = []
            for viewed in own:
                for name, among in queries._comparisons(demo_engine, viewed).items():
                    value = queries.reference(demo_engine, scope, figure["key"], period=figure["period"], level=level,
                                              group=figure["group"], name=name, gemeente=viewed)
                    if value is not None:
                        shown.append(set(outside) if among is None else set(among) & set(outside))
                        assert value == round(value, 2)  # rounded as shown: no exact float leaves the server
            assert not _isolable([g for g in shown if g], outside), (username, figure["key"], figure["period"])


def _truth(engine, gemeente, period, group):
    with engine.connect() as conn:
        return conn.execute(select(observation.c.value, observation.c.n).where(
            observation.c.indicator_key == "havo_vwo_17_pct", observation.c.gemeente_code == gemeente,
            observation.c.period == period, observation.c.group == group)).one()


def test_the_regio_user_cannot_subtract_their_way_to_brakelo(demo_engine):
    """The attack of the issue: regio (Veenhaven, Dijkstede) took 'alle gemeenten' with its n,
    subtracted its own two gemeenten and had Brakelo's 2016 'laag' group (with Waldersum's cell
    withheld that year, the rest was Brakelo alone). Now whatever the page shows is tried."""
    at = open_page("pages/ouderopleiding.py", "regio", gemeente="GM9901")
    table = at.dataframe[0].value
    reference = table[(table["Gebied"] == analysis.ALL_GEMEENTEN) & (table["Jaar"] == "2016")
                      & (table["Opleiding ouders"] == "laag")]
    own = [_truth(demo_engine, g, "2016", "laag") for g in ("GM9901", "GM9902")]
    brakelo = _truth(demo_engine, "GM9904", "2016", "laag")
    if len(reference):
        n_total = dutch(reference["17-jarigen (n)"].iloc[0])
        value_total = dutch(reference.iloc[0, 3])
        recovered = ((value_total * n_total - sum(v * n for v, n in own)) / (n_total - sum(n for _, n in own))
                     if n_total == n_total else None)  # NaN: no n to subtract with
        assert recovered is None or abs(recovered - brakelo.value) > 0.5
    assert any("referentie niet getoond" in c.value.lower() for c in at.caption) or len(reference)


def test_a_shown_reference_carries_no_n(demo_engine):
    """Grootzeestad's user: the other four are balanced enough for a reference, shown without n."""
    groups = analysis.by_group(demo_engine, Scope.of("GM9905"), "GM9905", "Grootzeestad", "havo_vwo_17_pct")
    everywhere = groups.frame[groups.frame["where"] == analysis.ALL_GEMEENTEN]
    assert len(everywhere) and everywhere["n"].isna().all()
    at = open_page("pages/ouderopleiding.py", "grootzeestad")
    table = at.dataframe[0].value
    assert set(table.loc[table["Gebied"] == analysis.ALL_GEMEENTEN, "17-jarigen (n)"]) == {"–"}


@pytest.mark.parametrize("key, level", [("afstroom_pct", None), ("havo_vwo_17_pct", None)])
def test_every_reference_read_follows_the_rule(demo_engine, key, level):
    for scope, shown in ((REGIO, False), (Scope.of("GM9905"), True), (Scope.everything(), True)):
        period = queries.periods(demo_engine, Scope.everything(), key)[0]  # the newest holds planted small cells
        value = queries.reference(demo_engine, scope, key, period=period, level=level,
                                  group="laag" if key == "havo_vwo_17_pct" else "")
        assert (value is not None) is shown, scope
