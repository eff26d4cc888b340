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
    assert privacy.reference_allowed(rows, Scope.of("GM1")) is allowed
    assert privacy.reference_allowed(rows, Scope.everything())  # nothing lies outside a beheerder's scope


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
