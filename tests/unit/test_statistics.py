import math

import pytest

from serving.experiments import statistics as st


def test_srm_hand_computed():
    # chi2 = (50^2 + 50^2) / 5000 = 1.0 with 1 dof -> p = erfc(sqrt(1/2)) = 0.3173
    r = st.srm_test({"a": 5050, "b": 4950}, {"a": 0.5, "b": 0.5})
    assert r.chi2 == pytest.approx(1.0) and r.dof == 1
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(0.5)), rel=1e-9) and not r.mismatch


def test_srm_flags_a_broken_split_and_uses_expected_counts():
    assert st.srm_test({"a": 5300, "b": 4700}, {"a": 0.5, "b": 0.5}).mismatch
    # expected counts from summed weights (a weight change halfway) fit the observation
    assert not st.srm_test({"a": 1500, "b": 500}, {"a": 1500.0, "b": 500.0}).mismatch
    assert st.srm_test({"a": 10, "b": 3}, {"a": 1.0, "b": 0.0}).mismatch  # traffic where none was due


def test_srm_matches_scipy():
    scipy = pytest.importorskip("scipy.stats")
    obs = {"a": 700, "b": 180, "c": 120}
    exp = [700.0, 200.0, 100.0]
    assert st.srm_test(obs, {"a": 0.7, "b": 0.2, "c": 0.1}).p_value == pytest.approx(
        scipy.chisquare([700, 180, 120], exp).pvalue)


@pytest.mark.parametrize("k, n, lo, hi", [
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998), Stat Med 17:857, Table I
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
])
def test_wilson_interval_published_values(k, n, lo, hi):
    got = st.wilson_interval(k, n)
    assert got[0] == pytest.approx(lo, abs=1e-4) and got[1] == pytest.approx(hi, abs=1e-4)


def test_msprt_hand_computed():
    # V = 1e-4, tau^2 = 1e-4, d = 0.03: Lambda = sqrt(1/2) * exp(1e-4 * 9e-4 / (2 * 1e-4 * 2e-4)) = sqrt(.5) e^2.25
    r = st.msprt(0.03, 1e-4, tau=0.01, alpha=0.05)
    assert r.likelihood_ratio == pytest.approx(math.sqrt(0.5) * math.exp(2.25))
    assert r.p_value == pytest.approx(1 / (math.sqrt(0.5) * math.exp(2.25)))
    half = math.sqrt(1e-4 * 2e-4 / 1e-4 * (2 * math.log(20) + math.log(2)))
    assert r.ci == pytest.approx((0.03 - half, 0.03 + half))
    # CI excludes 0 exactly when p < alpha (the same test, two views)
    assert (r.ci[0] > 0) == (r.p_value < 0.05)


def test_msprt_no_difference_is_not_significant_and_big_difference_is():
    assert not st.msprt_two_proportions(300, 1000, 302, 1000).significant(0.05)
    assert st.msprt_two_proportions(300, 1000, 150, 1000).significant(0.05)


def test_ratio_estimate_is_cluster_robust():
    # 4 playlists of 20 tracks with 0, 2, 4, 2 likes: R = 8/80 = 0.1
    ys, ms = [0, 2, 4, 2], [20] * 4
    s = st.RatioSums(n=4, y=sum(ys), m=sum(ms), yy=sum(y * y for y in ys), mm=sum(m * m for m in ms),
                     ym=sum(y * m for y, m in zip(ys, ms)))
    assert s.rate == pytest.approx(0.1)
    manual = sum((y - 0.1 * m) ** 2 for y, m in zip(ys, ms)) / (4 * 3 * 20 ** 2)
    assert s.variance() == pytest.approx(manual)


def sums(ys, m=20):
    return st.RatioSums(n=len(ys), y=sum(ys), m=m * len(ys), yy=sum(y * y for y in ys), mm=m * m * len(ys),
                        ym=sum(y * m for y in ys))


def test_a_few_playlists_without_likes_are_not_significantly_worse():
    control = sums([0, 1, 0, 2, 0, 0, 3, 0, 1, 0] * 100)  # 0.7 likes per playlist of 20
    assert not st.msprt_ratios(control, sums([0] * 8), tau=0.01).significant(0.05)
    assert st.msprt_ratios(control, sums([0] * 300), tau=0.01).significant(0.05)
    lo, hi = st.ratio_summary(sums([0] * 8))["ci"]
    assert lo == 0.0 and hi == pytest.approx(st.wilson_interval(0, 160)[1])
