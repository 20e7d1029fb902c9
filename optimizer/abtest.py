"""A/B tests: deterministic hashed variant assignment and a lift report with significance tests."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from types import MappingProxyType

_NORMAL = NormalDist()
_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class ExperimentSpec:
    """An experiment: a salt (so experiments split users independently) and variant weights."""

    salt: str
    variant_to_weight: Mapping[str, float]

    def __post_init__(self) -> None:
        if not self.salt:
            raise ValueError("salt must be a non-empty string")
        if len(self.variant_to_weight) < 2:
            raise ValueError(f"need >= 2 variants, got {len(self.variant_to_weight)}")
        bad = {v: w for v, w in self.variant_to_weight.items() if not w > 0}
        if bad:
            raise ValueError(f"variant weights must be > 0, got {bad}")
        object.__setattr__(
            self, "variant_to_weight", MappingProxyType(dict(self.variant_to_weight))
        )


def bucket(user_hash: str, salt: str) -> float:
    """A uniform number in ``[0, 1)`` from BLAKE2b-64 of ``salt + ":" + user_hash``."""
    digest = hashlib.blake2b(f"{salt}:{user_hash}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def assign_variant(user_hash: str, spec: ExperimentSpec) -> str:
    """The variant of a user: the same user and salt always land in the same variant.

    Variants take consecutive slices of ``[0, 1)`` in sorted name order, each as wide as
    its normalised weight, so reordering the mapping does not reshuffle users.
    """
    u = bucket(user_hash, spec.salt)
    names = sorted(spec.variant_to_weight)
    total = sum(spec.variant_to_weight.values())
    edge = 0.0
    for name in names:
        edge += spec.variant_to_weight[name] / total
        if u < edge:
            return name
    return names[-1]


@dataclass(frozen=True, slots=True)
class VariantStats:
    """Totals of one variant; money in integer micros."""

    impressions: int
    clicks: int
    conversions: int
    spend_micros: int

    def __post_init__(self) -> None:
        for name in ("impressions", "clicks", "conversions", "spend_micros"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.clicks > self.impressions:
            raise ValueError(
                f"clicks must be <= impressions, got {self.clicks} > {self.impressions}"
            )
        if self.conversions > self.clicks:
            raise ValueError(
                f"conversions must be <= clicks, got {self.conversions} > {self.clicks}"
            )


@dataclass(frozen=True, slots=True)
class MetricLift:
    """Treatment vs control for one metric; the interval bounds ``treatment - control``."""

    metric: str
    control: float
    treatment: float
    difference: float
    relative_lift: float
    lower: float
    upper: float
    p_value: float
    significant: bool


@dataclass(frozen=True, slots=True)
class LiftReport:
    ctr: MetricLift
    cpc_micros: MetricLift
    conversion_rate: MetricLift


def _lift(
    metric: str, control: float, treatment: float, se: float, p: float, alpha: float
) -> MetricLift:
    diff = treatment - control
    rel = diff / control if control > 0 else _NAN
    half = _NORMAL.inv_cdf(1 - alpha / 2) * se
    return MetricLift(metric, control, treatment, diff, rel, diff - half, diff + half, p, p < alpha)


def two_proportion(
    metric: str, x_c: int, n_c: int, x_t: int, n_t: int, level: float = 0.95
) -> MetricLift:
    """Two-proportion z-test (pooled standard error under H0) with a Wald interval.

    ``z = (p_t - p_c) / sqrt(p (1 - p) (1/n_c + 1/n_t))`` with ``p = (x_c + x_t)/(n_c + n_t)``;
    the interval uses the unpooled ``sqrt(p_c (1-p_c)/n_c + p_t (1-p_t)/n_t)``
    (Agresti & Caffo 2000 discuss small-sample alternatives).
    """
    alpha = 1 - level
    if n_c == 0 or n_t == 0:
        return MetricLift(metric, _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, 1.0, False)
    p_c, p_t = x_c / n_c, x_t / n_t
    pooled = (x_c + x_t) / (n_c + n_t)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    z = (p_t - p_c) / se0 if se0 > 0 else 0.0
    p_value = 2 * (1 - _NORMAL.cdf(abs(z)))
    se = math.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
    return _lift(metric, p_c, p_t, se, p_value, alpha)


def cpc_delta(control: VariantStats, treatment: VariantStats, level: float = 0.95) -> MetricLift:
    """Welch-style z-test on CPC by the delta method.

    With spend ``S`` taken as fixed and clicks ``C ~ Poisson``, ``CPC = S / C`` has
    ``Var(CPC) ~ CPC^2 / C`` (delta method, first order), so
    ``z = (CPC_t - CPC_c) / sqrt(CPC_c^2 / C_c + CPC_t^2 / C_t)``.
    """
    alpha = 1 - level
    if control.clicks == 0 or treatment.clicks == 0:
        return MetricLift("cpc_micros", _NAN, _NAN, _NAN, _NAN, _NAN, _NAN, 1.0, False)
    cpc_c = control.spend_micros / control.clicks
    cpc_t = treatment.spend_micros / treatment.clicks
    se = math.sqrt(cpc_c**2 / control.clicks + cpc_t**2 / treatment.clicks)
    z = (cpc_t - cpc_c) / se if se > 0 else 0.0
    p_value = 2 * (1 - _NORMAL.cdf(abs(z)))
    return _lift("cpc_micros", cpc_c, cpc_t, se, p_value, alpha)


def lift_report(control: VariantStats, treatment: VariantStats, level: float = 0.95) -> LiftReport:
    """CTR (clicks/impressions), CPC and conversion rate (conversions/clicks) lifts."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return LiftReport(
        ctr=two_proportion(
            "ctr",
            control.clicks,
            control.impressions,
            treatment.clicks,
            treatment.impressions,
            level,
        ),
        cpc_micros=cpc_delta(control, treatment, level),
        conversion_rate=two_proportion(
            "conversion_rate",
            control.conversions,
            control.clicks,
            treatment.conversions,
            treatment.clicks,
            level,
        ),
    )
