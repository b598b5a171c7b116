"""Per-arm statistics: sample-ratio mismatch, Wilson intervals, and an always-valid
sequential test (mSPRT) so that looking at the numbers every day is safe.

Pure functions over counts; no Ray, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

SRM_ALPHA = 0.001


def finite(x: float | None) -> float | None:
    """JSON has no infinity: unbounded ends and undefined values become null."""
    return None if x is None or not math.isfinite(x) else x


@dataclass(frozen=True)
class SrmResult:
    chi2: float
    dof: int
    p_value: float
    mismatch: bool  # p < alpha: the split is not what the weights say; do not trust the arms' numbers

    def as_dict(self) -> dict:
        return {"chi2": finite(self.chi2), "dof": self.dof, "p_value": self.p_value, "mismatch": self.mismatch}


def srm_test(observed: dict[str, int], expected: dict[str, float], alpha: float = SRM_ALPHA) -> SrmResult:
    """Pearson chi-square of observed exposures against expected counts.

    `expected` may be counts (summed weights at exposure time, so live weight
    changes are accounted for) or shares; shares are scaled to the observed total.
    """
    from scipy.stats import chi2

    arms = sorted(set(observed) | set(expected))
    n = sum(observed.get(a, 0) for a in arms)
    e_total = sum(expected.get(a, 0.0) for a in arms)
    if n == 0 or e_total <= 0:
        return SrmResult(0.0, 0, 1.0, False)
    scale = n / e_total
    stat, cells = 0.0, 0
    for a in arms:
        e = expected.get(a, 0.0) * scale
        o = observed.get(a, 0)
        if e <= 0:
            if o > 0:  # listeners in an arm that should have none: a mismatch by definition
                return SrmResult(math.inf, max(cells, 1), 0.0, True)
            continue
        stat += (o - e) ** 2 / e
        cells += 1
    if cells < 2:
        return SrmResult(0.0, 0, 1.0, False)
    p = float(chi2.sf(stat, cells - 1))
    return SrmResult(stat, cells - 1, p, p < alpha)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial rate; (0, 1) when n == 0."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes ({successes}) must be between 0 and n ({n})")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class SequentialResult:
    """mSPRT for a difference (treatment minus control) with an approximately normal estimate."""

    diff: float  # observed difference (treatment - control)
    likelihood_ratio: float  # mixture likelihood ratio Lambda_n
    p_value: float  # always-valid p-value at this look (callers keep the running minimum)
    ci: tuple[float, float]  # always-valid confidence sequence for the difference

    def significant(self, alpha: float) -> bool:
        return self.p_value < alpha

    def as_dict(self) -> dict:
        return {
            "diff": self.diff, "likelihood_ratio": finite(self.likelihood_ratio), "p_value": self.p_value,
            "ci": [finite(self.ci[0]), finite(self.ci[1])],
        }


def msprt(diff: float, variance: float, tau: float, alpha: float = 0.05) -> SequentialResult:
    """Mixture SPRT (Johari, Pekelis & Walsh, 'Always Valid Inference', 2017), normal
    approximation with a N(0, tau^2) mixture over the true difference:

      Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2))),  p = min(1, 1/Lambda)

    and the confidence sequence d +- sqrt(V (V + tau^2) / tau^2 * (2 ln(1/alpha) + ln((V + tau^2) / V))),
    which covers the true difference at every look simultaneously with probability >= 1 - alpha.
    `variance` is Var(d); `tau` the size of difference the test is tuned to (metric units).
    """
    if not variance > 0 or not tau > 0:
        return SequentialResult(diff, 1.0, 1.0, (-math.inf, math.inf))
    v, t2 = variance, tau * tau
    log_lr = 0.5 * math.log(v / (v + t2)) + t2 * diff * diff / (2 * v * (v + t2))
    lr = math.exp(min(log_lr, 700.0))
    half = math.sqrt(v * (v + t2) / t2 * (2 * math.log(1 / alpha) + math.log((v + t2) / v)))
    return SequentialResult(diff, lr, min(1.0, 1.0 / lr), (diff - half, diff + half))


def msprt_two_proportions(
    k_control: int, n_control: int, k_treatment: int, n_treatment: int, tau: float = 0.05, alpha: float = 0.05
) -> SequentialResult:
    """mSPRT on the difference of two rates; variances shrunk away from 0 so 0/n does not give V = 0."""
    if n_control <= 0 or n_treatment <= 0:
        return SequentialResult(0.0, 1.0, 1.0, (-1.0, 1.0))
    v = _shrunk(k_control, n_control) / n_control + _shrunk(k_treatment, n_treatment) / n_treatment
    return msprt(k_treatment / n_treatment - k_control / n_control, v, tau, alpha)


def _shrunk(k: int, n: int) -> float:
    p = (k + 0.5) / (n + 1.0)
    return p * (1 - p)


@dataclass(frozen=True)
class RatioSums:
    """Sums over units (served playlists) of y (likes) and m (tracks): enough for a
    cluster-robust ratio estimate R = sum(y) / sum(m) that respects that tracks of
    one playlist are not independent trials."""

    n: int = 0
    y: float = 0.0
    m: float = 0.0
    yy: float = 0.0
    mm: float = 0.0
    ym: float = 0.0

    @property
    def rate(self) -> float | None:
        return self.y / self.m if self.m else None

    def ss_about(self, r: float) -> float:
        """sum over units of (y_i - r m_i)^2."""
        return max(self.yy - 2 * r * self.ym + r * r * self.mm, 0.0)

    def variance(self) -> float:
        """Delta-method Var(R) = sum((y_i - R m_i)^2) / (n (n-1) mbar^2)."""
        if self.n < 2 or not self.m:
            return math.inf
        mbar = self.m / self.n
        return self.ss_about(self.y / self.m) / (self.n * (self.n - 1) * mbar * mbar)


def ratio_summary(s: RatioSums, confidence: float = 0.95) -> dict:
    """Cluster-robust normal interval, widened to at least the Wilson interval of the
    pooled tracks: with few or no events the normal approximation is far too narrow."""
    if s.rate is None:
        return {"n": s.n, "rate": None, "ci": [0.0, 1.0]}
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    half = z * math.sqrt(s.variance()) if s.n >= 2 else math.inf
    wlo, whi = wilson_interval(int(round(s.y)), int(round(s.m)), confidence)
    return {"n": s.n, "rate": s.rate, "ci": [max(0.0, min(s.rate - half, wlo)), min(1.0, max(s.rate + half, whi))]}



def msprt_ratios(control: RatioSums, treatment: RatioSums, tau: float, alpha: float = 0.05) -> SequentialResult:
    """mSPRT on the difference of two like rates. Var(d) is the larger of the unpooled
    (Welch) and the pooled-under-H0 estimate: an arm with a handful of playlists and no
    likes yet has a plug-in variance of ~0, which alone would declare it 'significantly
    worse' after a few requests."""
    if control.rate is None or treatment.rate is None or control.n < 2 or treatment.n < 2:
        return SequentialResult(0.0, 1.0, 1.0, (-math.inf, math.inf))
    welch = control.variance() + treatment.variance()
    r0 = (control.y + treatment.y) / (control.m + treatment.m)
    s2 = (control.ss_about(r0) + treatment.ss_about(r0)) / (control.n + treatment.n - 1)
    pooled = sum(s2 / (a.n * (a.m / a.n) ** 2) for a in (control, treatment))
    return msprt(treatment.rate - control.rate, max(welch, pooled), tau, alpha)


def rate_summary(successes: int, n: int, confidence: float = 0.95) -> dict:
    lo, hi = wilson_interval(successes, n, confidence)
    return {"successes": successes, "n": n, "rate": (successes / n) if n else None, "ci": [lo, hi]}
