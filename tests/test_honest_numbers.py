"""Honest numbers (issue #15): every rate with its margin, a change called a rise only beyond
it, schools judged in a funnel, peers from CBS context, and no margin where it would disclose.

Margins are checked against closed forms and against statsmodels called directly; the planted
changes sit on Rotterdam's real wijken, loaded from ../shared/data/raw as a new user would."""

from __future__ import annotations

import re
import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sqlalchemy import insert, select, update
from statsmodels.stats import proportion

from gka_dash import indeling, analysis, db, gesprek, maps, peers, queries, registry, stats, tables
from gka_dash.access import users
from gka_dash.importers.folder import import_folder
from gka_dash.importers.indicators_csv import import_indicators
from gka_dash.schema import observation
from gka_dash.scope import Scope

from .conftest import RAW, raw
from .test_real_gemeente import PASSWORD, _open

ROTTERDAM = Scope.of("GM0599")
Z95 = sps.norm.ppf(0.975)


# --- margins against their closed forms and the library -------------------------------------

def _wilson(share: float, n: float) -> tuple[float, float]:
    """Wilson (1927), written out: the interval the library must give."""
    centre = (share + Z95 ** 2 / (2 * n)) / (1 + Z95 ** 2 / n)
    half = Z95 / (1 + Z95 ** 2 / n) * math.sqrt(share * (1 - share) / n + Z95 ** 2 / (4 * n ** 2))
    return centre - half, centre + half


@pytest.mark.parametrize("pct, n", [(8.0, 40), (16.0, 40), (13.0, 3000), (0.0, 25), (100.0, 12), (50.0, 7)])
def test_a_share_gets_the_wilson_interval(pct, n):
    low, high = stats.interval(pct, n, "pct")
    expected = _wilson(pct / 100, n)
    assert (low, high) == pytest.approx((expected[0] * 100, expected[1] * 100), abs=1e-9)
    assert 0 <= low <= pct + 1e-9 and pct - 1e-9 <= high <= 100


def test_a_rate_per_1000_is_a_share_of_a_thousand():
    low, high = stats.interval(40.0, 5000, "per_1000")
    expected = _wilson(0.04, 5000)
    assert (low, high) == pytest.approx((expected[0] * 1000, expected[1] * 1000))


@pytest.mark.parametrize("unit, sd", [("advies", 1.15), ("z", 1.0)])
def test_a_mean_gets_a_normal_interval_on_the_documented_pupil_spread(unit, sd):
    low, high = stats.interval(4.2, 36, unit)
    assert (low, high) == pytest.approx((4.2 - Z95 * sd / 6, 4.2 + Z95 * sd / 6))


@pytest.mark.parametrize("unit", ["count", "score", "per_km2", "flag"])
def test_figures_that_are_no_share_or_mean_of_pupils_get_no_margin(unit):
    assert stats.interval(12.0, 100, unit) == (None, None)
    assert stats.difference(12.0, 100, 14.0, 100, unit) is None


def test_no_n_no_margin():
    assert stats.interval(12.0, None, "pct") == (None, None)
    assert stats.interval(12.0, float("nan"), "pct") == (None, None)


def test_the_advies_spread_is_what_the_duo_schooladviezen_give():
    """PUPIL_SD['advies'] recomputed from the public file: the pooled within-school standard
    deviation of schooladviezen on the 1-6 scale, so the constant cannot drift from its source."""
    frame = pd.read_csv(raw("duo_schooladviezen_nocturnaltomato/schooladviezen_per_brin_2019_2025_tidy.csv"))
    columns = {f"{k}_n_mid": v for k, v in registry.ADVIES_SCALE.items()}
    counts, scale = frame[list(columns)].to_numpy(float), np.array(list(columns.values()))
    n = counts.sum(axis=1)
    means = (counts * scale).sum(axis=1) / np.where(n > 0, n, 1)
    within = (counts * (scale[None, :] - means[:, None]) ** 2).sum() / (n.sum() - (n > 0).sum())
    assert stats.PUPIL_SD["advies"] == pytest.approx(math.sqrt(within), abs=0.01)


@pytest.mark.parametrize("before, n_before, after, n_after, verdict", [
    (8.0, 40, 16.0, 40, "binnen de marge"),  # the noisy wijk
    (10.0, 3000, 13.0, 3000, "gestegen"),  # the real rise
    (13.0, 3000, 10.0, 3000, "gedaald"),
    (10.0, 500, 10.0, 500, "binnen de marge"),
])
def test_a_change_has_the_score_interval_of_the_difference_and_words_only_beyond_it(
        before, n_before, after, n_after, verdict):
    found = stats.difference(before, n_before, after, n_after, "pct")
    args = dict(count1=after / 100 * n_after, nobs1=n_after, count2=before / 100 * n_before, nobs2=n_before,
                compare="diff", method="score")
    low, high = proportion.confint_proportions_2indep(**args)
    assert (found.low, found.high) == pytest.approx((low * 100, high * 100))
    assert found.p == pytest.approx(proportion.test_proportions_2indep(**args).pvalue)
    assert found.verdict == verdict
    assert found.low <= found.change <= found.high


def test_the_stronger_evidence_ranks_first_whatever_the_size():
    noisy = stats.difference(8.0, 40, 16.0, 40, "pct")
    real = stats.difference(10.0, 3000, 13.0, 3000, "pct")
    assert noisy.change > real.change and real.evidence > noisy.evidence


def test_a_trend_is_the_weighted_least_squares_slope_and_two_points_are_none():
    years, values, n = [2019, 2020, 2021, 2022, 2023], [40.0, 42.0, 44.5, 45.5, 48.0], [900] * 5
    found = stats.trend(years, values, n, "pct")
    weights = [1 / (v / 100 * (1 - v / 100) / 900 * 100 ** 2) for v in values]
    slope = np.polyfit(years, values, 1, w=np.sqrt(weights))[0]
    assert found.slope == pytest.approx(slope) and found.direction == "stijgend"
    assert stats.trend(years[:2], values[:2], n[:2], "pct") is None
    zigzag = stats.trend(years, [40.0, 48.0, 39.0, 47.0, 41.0], n, "pct")
    assert zigzag.direction == "geen duidelijke richting"


def test_many_wijken_need_benjamini_hochberg():
    found = stats.discoveries([0.001, 0.025, 0.04, 0.3, 0.8])
    assert list(found) == [True, False, False, False, False]  # 0,025 and 0,04 < 0,05 alone would have counted


# --- the planted changes on Rotterdam's real wijken --------------------------------

@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Rotterdam's public data, and afstroom for its 2015 wijken: one wijk 8 → 16 % on 40
    pupils (noise), one 10 → 13 % on 3.000 (real), every other wijk 10 % on 500 both times."""
    raw("tnocs_vr/wijk.geojson")
    folder = tmp_path_factory.mktemp("honest")
    url = f"sqlite:///{folder / 'real.sqlite'}"
    engine = db.get_engine(url)
    db.init_db(engine)
    assert not import_folder(engine, RAW, year=2015).failed
    wijken = queries.areas(engine, ROTTERDAM, "GM0599")[["code", "name"]].sort_values("code").reset_index(drop=True)
    noisy, real = wijken.iloc[3], wijken.iloc[7]
    lines = ["indicator,subject,period,group,value,n"]
    for code in wijken["code"]:
        first, second = {noisy.code: ((8.0, 40), (16.0, 40)), real.code: ((10.0, 3000), (13.0, 3000))}.get(
            code, ((10.0, 500), (10.0, 500)))
        lines += [f"afstroom_pct,{code},2014-2016,,{first[0]},{first[1]}",
                  f"afstroom_pct,{code},2016-2018,,{second[0]},{second[1]}"]
    path = folder / "afstroom.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_indicators(engine, path)
    with engine.begin() as conn:
        users.add_user(conn, "rotterdam", role="gemeente", gemeenten=["GM0599"], password=PASSWORD)
    return url, noisy, real


def test_gesprek_names_the_real_change_and_not_the_noisy_one(planted):
    url, noisy, real = planted
    engine = db.get_engine(url)
    found = gesprek.highlights(engine, ROTTERDAM, "GM0599", "Rotterdam")
    afstroom = [h for h in found.items if h.page == "afstroom"]
    assert [h.title for h in afstroom] == [f"Afstroom gestegen in {real['name']}"]
    assert afstroom[0].figure.startswith("+3,0 procentpunt (marge ±")
    assert not any(noisy["name"] in h.title or noisy["name"] in h.text for h in found.items)


def test_gesprek_page_shows_the_real_change_with_its_margin(planted, monkeypatch):
    url, noisy, real = planted
    at = _open(url, monkeypatch, "pages/gesprek.py")
    assert not at.exception
    titles = [re.sub(r"\\(.)", r"\1", m.value) for m in at.markdown if m.value.startswith("**")]  # as read
    assert any(f"Afstroom gestegen in {real['name']}" in t for t in titles)
    assert not any(noisy["name"] in m.value for m in at.markdown)
    assert any(">+3,0 procentpunt</p>" in m.value for m in at.markdown)
    assert any(c.value.startswith("\\(marge ±") for c in at.caption)


def test_afstroom_table_and_csv_carry_the_interval_the_library_gives(planted, monkeypatch, downloads):
    url, noisy, real = planted
    at = _open(url, monkeypatch, "pages/afstroom.py")
    assert not at.exception
    table = next(d.value for d in at.dataframe if "Oordeel" in d.value.columns).set_index("Wijkcode")
    assert table.loc[noisy.code, "Oordeel"] == "binnen de marge"
    assert table.loc[real.code, "Oordeel"] == "gestegen"
    csv = next(data for name, data in downloads if name.endswith(".csv") and "afstroom" in name)
    exported = pd.read_csv(io.BytesIO(csv), sep=";", decimal=",", encoding="utf-8-sig").set_index("Wijkcode")
    for code, (b, nb, a, na) in ((noisy.code, (8.0, 40, 16.0, 40)), (real.code, (10.0, 3000, 13.0, 3000))):
        low, high = proportion.confint_proportions_2indep(a / 100 * na, na, b / 100 * nb, nb, compare="diff",
                                                          method="score")
        wilson = proportion.proportion_confint(a / 100 * na, na, method="wilson")
        assert exported.loc[code, "Ondergrens 95 % verandering"] == pytest.approx(round(low * 100, 1))
        assert exported.loc[code, "Bovengrens 95 % verandering"] == pytest.approx(round(high * 100, 1))
        assert exported.loc[code, "Ondergrens 95 % 2016-2018"] == pytest.approx(round(wilson[0] * 100, 1))
        assert exported.loc[code, "Bovengrens 95 % 2016-2018"] == pytest.approx(round(wilson[1] * 100, 1))
        assert table.loc[code, "Ondergrens 95 % verandering"] == f"{low * 100:.1f}".replace(".", ",")


def test_the_change_map_paints_the_noisy_wijk_neutral(planted):
    url, noisy, real = planted
    engine = db.get_engine(url)
    change = analysis.wijk_change(engine, ROTTERDAM, "GM0599", "afstroom_pct", "2014-2016", "2016-2018")
    view = maps.change_map(change, registry.get("afstroom_pct"), "2014-2016", "2016-2018")
    fills = {f["naam"]: f["fill"][:3] for f in view.deck.layers[0].data}
    neutral = [int(maps.WITHIN_MARGIN[i:i + 2], 16) for i in (1, 3, 5)]
    assert fills[f"{noisy['name']} ({noisy.code})"] == neutral
    assert fills[f"{real['name']} ({real.code})"] != neutral
    assert maps.WITHIN_MARGIN_TEXT in [e.label for e in view.legend]


def test_the_afstroom_highlight_opens_its_view_on_its_filters(planted, monkeypatch):
    url, noisy, real = planted
    found = gesprek.highlights(db.get_engine(url), ROTTERDAM, "GM0599", "Rotterdam")
    link = next(h for h in found.items if h.page == "afstroom")
    at = _open(url, monkeypatch, "pages/afstroom.py", **link.params)
    assert not at.exception and not at.error
    assert all(at.query_params[k] == v for k, v in link.params.items())


# --- schools in a funnel -------------------------------------------------------------------

def _plant_school(conn, school_id: str, fit, offset: float, n: int) -> None:
    """Give a school ``n`` pupils in every year and a toetsadvies ``offset`` above the line."""
    rows = conn.execute(select(observation.c.period, observation.c.value).where(
        observation.c.indicator_key == "apcg_pct", observation.c.subject == school_id)).all()
    for period, apcg in rows:
        expected = float(fit.predict([apcg], [period])[0])
        for key, value in (("apcg_pct", apcg), ("toetsadvies_gem", expected + offset)):
            conn.execute(update(observation).where(
                observation.c.indicator_key == key, observation.c.subject == school_id,
                observation.c.period == period).values(value=value, n=n))


def test_funnel_judges_by_size_not_by_raw_distance(demo_engine):
    """A big school about 0,5 above the line lies beyond the funnel's 95 % limit in every year; a
    school of ten pupils further above lies within it: chance alone moves a school that small
    that far. (The line itself moves a little toward the planted big school.)"""
    fit = analysis.expected_line(demo_engine, "apcg_pct", "toetsadvies_gem")
    with demo_engine.begin() as conn:
        _plant_school(conn, "0BAX00", fit, 0.60, 400)
        _plant_school(conn, "0BAC00", fit, 0.66, 10)
        db.bump_data_version(conn)  # what an import does: cached reads see the planted rows
    pairs = analysis.school_pairs(demo_engine, Scope.of("GM9901"), "GM9901", "apcg_pct", "toetsadvies_gem")
    frame = pairs.frame.set_index(["id", "period"])
    big, small = frame.loc["0BAX00"], frame.loc["0BAC00"]
    assert (small["residual"] > big["residual"]).all()
    assert set(big["position"]) <= {"boven verwachting", "ver boven verwachting"}
    assert set(small["position"]) == {"binnen de marge"}
    # The limits: z · √(φσ²/n + τ²), τ² the between-school spread (DerSimonian-Laird), φ the
    # dispersion of the schools' year-to-year changes.
    spread, phi = pairs.fit.spread, pairs.fit.dispersion
    assert big["limit95"].iloc[0] == pytest.approx(Z95 * math.sqrt(phi * 1.15 ** 2 / 400 + spread))
    assert small["limit998"].iloc[0] == pytest.approx(sps.norm.ppf(0.999) * math.sqrt(phi * 1.15 ** 2 / 10 + spread))

    found, _ = gesprek.school_extremes(demo_engine, Scope.of("GM9901"), "GM9901")
    above = [h for h in found if h.title.endswith("hoger dan verwacht")]
    assert above and above[0].params["school"] == "0BAX00"
    assert "in 5 van de 5 schooljaren" in above[0].text
    assert not any(h.params.get("school") == "0BAC00" for h in found)


def test_funnel_between_school_spread_is_the_librarys_dersimonian_laird():
    from statsmodels.stats.meta_analysis import combine_effects
    residuals, variances = np.array([0.3, -0.2, 0.5, 0.0, -0.4, 0.1]), np.array([0.02, 0.05, 0.01, 0.03, 0.02, 0.04])
    assert stats.between_spread(residuals, variances) == pytest.approx(
        combine_effects(residuals, variances, method_re="dl").tau2)


def test_scholen_page_draws_the_funnel_and_lists_similar_schools(demo_engine):
    from .test_views import open_page
    at = open_page("pages/scholen.py", school="0BAE00")
    assert not at.exception
    assert any(s.value == "Trechter: welke scholen wijken echt af?" for s in at.header)
    similar = next(d.value for d in at.dataframe if len(d.value) == 6)
    assert similar["Vestiging"].iloc[0] == "0BAE00"
    assert similar["Schooljaar"].nunique() == 1


# --- peers --------------------------------------------------------------------------------

def test_rotterdams_peers_are_big_cities_chosen_deterministically(planted):
    url, _, _ = planted
    engine = db.get_engine(url)
    found = queries.peers(engine, "GM0599")
    names = queries.gemeente_names(engine, tuple(found.codes))
    assert len(found.codes) == peers.PEER_COUNT and "GM0599" not in found.codes
    assert {"Amsterdam", "'s-Gravenhage"} <= set(names.values())  # alike in size, bijstand and background
    inhabitants = queries.all_gemeenten(engine, "inwoners", period="2015").set_index("subject")["value"]
    assert inhabitants.reindex(found.codes).median() > 100_000
    assert queries.peers.__wrapped__(engine, "GM0599") == found  # computed afresh, not from the cache
    assert found.distances == sorted(found.distances) and found.year
    assert all(not indeling.ceased(code) for code in found.codes)  # only gemeenten that exist today


def test_overzicht_names_the_peers_and_compares_with_them_and_the_gka(planted, monkeypatch):
    url, _, _ = planted
    at = _open(url, monkeypatch, "pages/overzicht.py", verloop="schooladvies_havo_vwo_pct:")
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any("Vergelijkbare gemeenten" in c and "Amsterdam" in c for c in captions)
    assert any("GKA-gemeenten:" in c and "vergelijkbare gemeenten:" in c for c in captions)
    # The trend of the first figure (schooladvies havo/vwo, six school years) in words.
    assert any(c.startswith("Over 6 perioden") and "per jaar" in c for c in captions)
    assert at.get("vega_lite_chart")


# --- suppression and disclosure still hold ------------------------------------------------

def test_no_interval_for_a_withheld_cell_and_none_for_a_reference(demo_engine):
    change = analysis.wijk_change(demo_engine, Scope.of("GM9901"), "GM9901", "afstroom_pct", "2014-2016", "2016-2018")
    planted = change.frame.set_index("code").loc["WK990103"]  # n = 7 in 2016-2018 (conftest.PLANTED)
    assert pd.isna(planted["low_after"]) and pd.isna(planted["high_after"]) and pd.isna(planted["change_low"])
    table = tables.change_table(change, registry.get("afstroom_pct"), "2014-2016", "2016-2018")
    row = table.set_index("Wijkcode").loc["WK990103"]
    assert pd.isna(row["Ondergrens 95 % 2016-2018"]) and row["Oordeel"] == ""

    groups = analysis.by_group(demo_engine, Scope.everything(), "GM9901", "Veenhaven", "havo_vwo_17_pct")
    references = groups.frame[groups.frame["where"] == analysis.ALL_GEMEENTEN]
    assert len(references) and references["low"].isna().all() and references["n"].isna().all()
    series = queries.series(demo_engine, Scope.of("GM9901"), "GM9901", "afstroom_pct")
    assert series.loc[series["where"] != "gemeente", ["n", "low", "high"]].isna().all().all()


def test_the_funnel_and_the_map_say_in_one_sentence_what_they_show(demo_engine):
    pairs = analysis.school_pairs(demo_engine, Scope.of("GM9901"), "GM9901", "apcg_pct", "toetsadvies_gem").frame
    judged = pairs[pairs["position"] != ""]  # the sentence counts exactly what the funnel draws: every year
    above = judged["position"].isin(["boven verwachting", "ver boven verwachting"]).sum()
    below = judged["position"].isin(["onder verwachting", "ver onder verwachting"]).sum()
    years = sorted(judged["period"].unique())
    assert analysis.funnel_summary(pairs).startswith(
        f"In de {len(years)} schooljaren {years[0]} tot {years[-1]} liggen van de {len(judged)} punten (scholen per "
        f"schooljaar) er {above} boven en {below} onder de verwachting")
    values = analysis.area_values(demo_engine, Scope.of("GM9901"), "GM9901", "afstroom_pct", "2016-2018").frame
    shown = values.dropna(subset=["value"])
    top = shown.loc[shown["value"].idxmax(), "name"]
    assert analysis.level_summary(values, registry.get("afstroom_pct")).startswith(f"Hoogst in {top} (")


# --- issue #22: margins that cover estimated cells and real variation; schools named only on their own figure

def test_a_change_beyond_the_binomial_margin_but_not_beyond_the_estimation_is_no_rise():
    """40 → 47 % on 400 pupils a year is a rise by the binomial margin; when a third of the
    pupils sit in DUO's '<5' cells, the spread between imputations swallows it."""
    plain = stats.difference(40.0, 400, 47.0, 400, "pct")
    assert plain.verdict == "gestegen"
    frame = pd.DataFrame({"value": [47.0, 47.0], "n": [200, 200], "n_estimated": [70, 64],
                          "imputation_var": [24.0, 26.0]})
    estimated = queries.estimation(frame)
    assert estimated.share == pytest.approx(134 / 400)
    assert estimated.variance == pytest.approx(0.25 * 24 + 0.25 * 26)
    widened = stats.difference(40.0, 400, 47.0, 400, "pct", extra=estimated.variance)
    assert widened.verdict == "binnen de marge" and widened.margin > plain.margin
    low, high = stats.interval(47.0, 400, "pct", extra=estimated.variance)
    plain_low, plain_high = stats.interval(47.0, 400, "pct")
    assert low < plain_low and high > plain_high


def test_intervals_with_the_measured_dispersion_cover_95_percent_of_overdispersed_cohorts():
    """Simulated gemeenten whose cohorts vary beyond chance (a beta-binomial year effect): the
    binomial interval misses the true level too often; with φ measured from the year-to-year
    changes (stats.dispersion) the 95 % interval covers 93-97 % of the true levels."""
    rng = np.random.default_rng(22)
    units, years = 600, 6
    truth = rng.uniform(0.2, 0.6, units)
    size = rng.integers(150, 1500, units)
    records = []
    for u in range(units):
        for t in range(years):
            cohort = rng.beta(truth[u] * 300, (1 - truth[u]) * 300)  # one cohort's own level
            records.append({"unit": u, "period": str(2019 + t), "n": int(size[u]),
                            "value": rng.binomial(size[u], cohort) / size[u] * 100})
    frame = pd.DataFrame(records)
    phi = stats.dispersion(frame, "pct")
    assert phi > 1.3

    def coverage(dispersion):
        hits = [lo <= truth[r.unit] * 100 <= hi for r in frame.itertuples()
                for lo, hi in [stats.interval(r.value, r.n, "pct", phi=dispersion)]]
        return float(np.mean(hits))

    assert coverage(1.0) < 0.92  # the binomial margin alone is too narrow
    assert 0.93 <= coverage(phi) <= 0.97


def _plant_named_school(demo_engine):
    fit = analysis.expected_line(demo_engine, "apcg_pct", "toetsadvies_gem")
    with demo_engine.begin() as conn:
        _plant_school(conn, "0BAX00", fit, 0.60, 400)
        db.bump_data_version(conn)


def _named(demo_engine) -> tuple[bool, list[str]]:
    found, notes = gesprek.school_extremes(demo_engine, Scope.of("GM9901"), "GM9901")
    return any(h.params.get("school") == "0BAX00" for h in found), notes


def test_a_school_whose_cohort_halved_is_not_named(demo_engine):
    _plant_named_school(demo_engine)
    assert _named(demo_engine)[0]  # the control: planted above expectation, it is named
    with demo_engine.begin() as conn:
        conn.execute(update(observation).where(observation.c.subject == "0BAX00", observation.c.period == "2018-2019",
                                               observation.c.indicator_key == "toetsadvies_gem").values(n=150))
        db.bump_data_version(conn)
    named, notes = _named(demo_engine)
    assert not named
    assert any("niet genoemd" in note and "het aantal leerlingen ging van 400" in note for note in notes)


def test_a_renamed_brin_is_not_named(demo_engine):
    _plant_named_school(demo_engine)
    with demo_engine.begin() as conn:
        dataset_id = conn.execute(select(observation.c.dataset_id).limit(1)).scalar()
        conn.execute(insert(observation).values(indicator_key="schooladvies_andere_naam", subject="0BAX00",
                                                gemeente_code="GM9901", period="2018-2019", period_start=2018,
                                                period_end=2019, group="", value=1.0, dataset_id=dataset_id))
        db.bump_data_version(conn)
    named, notes = _named(demo_engine)
    assert not named
    assert any("de naam van een andere school" in note for note in notes)


def test_a_school_year_of_mostly_estimated_cells_is_not_named(demo_engine):
    _plant_named_school(demo_engine)
    with demo_engine.begin() as conn:
        conn.execute(update(observation).where(observation.c.subject == "0BAX00", observation.c.period == "2018-2019",
                                               observation.c.indicator_key == "toetsadvies_gem").values(n_estimated=160))
        db.bump_data_version(conn)
    named, notes = _named(demo_engine)
    assert not named and any("geschatte cellen" in note for note in notes)
