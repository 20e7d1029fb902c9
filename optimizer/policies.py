"""Bandit policies over a campaign's arms: one select/update protocol behind a spec factory.

Every policy scores arms by *reward per unit spend* (clicks or conversions per currency
unit, one unit = 1,000,000 micros), the quantity a budget allocator maximises. It factors as

    v_a = theta_a * rho_a,    theta_a = reward per impression,  rho_a = impressions per unit spend

``select(n, rng)`` returns ``n`` joint draws of ``v`` (shape ``(n, K)``); the allocator turns
them into budget shares, and ``Selection.probability_best`` gives the probability that each
arm is the best one (the policy's propensity for off-policy evaluation).
Implementations are private; build them with :func:`build_policy` from a spec, and save or
restore them with ``to_state()`` / :func:`from_state` (plain JSON-able dicts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from optimizer.arms import ArmStats

MICROS_PER_UNIT = 1_000_000
_COLUMNS = ("spend_micros", "impressions", "clicks", "conversions")


class Objective(Enum):
    CLICKS = "clicks"
    CONVERSIONS = "conversions"


class UCBVariant(Enum):
    UCB1 = "ucb1"
    KL_UCB = "kl-ucb"


def _check_beta(prior_alpha: float, prior_beta: float) -> None:
    if prior_alpha <= 0 or prior_beta <= 0:
        raise ValueError(f"prior_alpha and prior_beta must be > 0, got {prior_alpha}, {prior_beta}")


def _check_prior(prior_impressions: float, prior_cpm_micros: int, discount: float) -> None:
    if prior_impressions <= 0:
        raise ValueError(f"prior_impressions must be > 0, got {prior_impressions}")
    if prior_cpm_micros <= 0:
        raise ValueError(f"prior_cpm_micros must be > 0, got {prior_cpm_micros}")
    if not 0 < discount <= 1:
        raise ValueError(f"discount must be in (0, 1], got {discount}")


@dataclass(frozen=True, slots=True)
class ThompsonSpec:
    """Thompson sampling (Thompson 1933; Chapelle & Li 2011) on reward per spend.

    ``theta ~ Beta(prior_alpha + s, prior_beta + n - s)`` (Beta-Bernoulli on reward per
    impression) and ``rho ~ Gamma(prior_impressions + n, prior_spend + spend)`` (Gamma-Poisson
    on impressions per unit spend, i.e. the inverse CPM), with ``prior_spend`` chosen so
    the prior mean of ``rho`` is ``1000 / prior_cpm``. ``discount`` multiplies old evidence
    at every update (1 = stationary).
    """

    objective: Objective = Objective.CLICKS
    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    prior_impressions: float = 1.0
    prior_cpm_micros: int = 1_000_000
    discount: float = 1.0

    def __post_init__(self) -> None:
        _check_beta(self.prior_alpha, self.prior_beta)
        _check_prior(self.prior_impressions, self.prior_cpm_micros, self.discount)


@dataclass(frozen=True, slots=True)
class UCBSpec:
    """Upper confidence bound on reward per impression, times the posterior-mean ``rho``.

    UCB1 (Auer, Cesa-Bianchi & Fischer 2002): ``min(1, p + sqrt(exploration * ln t / n))``.
    KL-UCB (Garivier & Cappé 2011): ``max{q >= p : n kl(p, q) <= ln t + c ln ln t}``.
    ``t`` is the total impressions over the arms; an arm without impressions gets 1.
    """

    variant: UCBVariant = UCBVariant.KL_UCB
    objective: Objective = Objective.CLICKS
    exploration: float = 2.0
    c: float = 0.0
    prior_impressions: float = 1.0
    prior_cpm_micros: int = 1_000_000
    discount: float = 1.0

    def __post_init__(self) -> None:
        if self.exploration < 0 or self.c < 0:
            raise ValueError(f"exploration and c must be >= 0, got {self.exploration}, {self.c}")
        _check_prior(self.prior_impressions, self.prior_cpm_micros, self.discount)


@dataclass(frozen=True, slots=True)
class EpsilonGreedySpec:
    """Epsilon-greedy (Sutton & Barto 2018, §2.2): each draw is the point estimate of
    ``v`` with probability ``1 - epsilon``, else independent uniform noise (a random order)."""

    epsilon: float = 0.1
    objective: Objective = Objective.CLICKS
    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    prior_impressions: float = 1.0
    prior_cpm_micros: int = 1_000_000
    discount: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.epsilon <= 1:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon}")
        _check_beta(self.prior_alpha, self.prior_beta)
        _check_prior(self.prior_impressions, self.prior_cpm_micros, self.discount)


@dataclass(frozen=True, slots=True)
class UniformSpec:
    """Uniform random: every draw is a random order of the arms (the A/B baseline)."""

    discount: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {self.discount}")


PolicySpec = ThompsonSpec | UCBSpec | EpsilonGreedySpec | UniformSpec


@dataclass(frozen=True, slots=True, eq=False)
class Selection:
    """``n`` joint draws of reward per unit spend: ``values[i, a]`` for ``arms[a]``."""

    arms: tuple[str, ...]
    values: NDArray[np.float64] = field(repr=False)

    def probability_best(self) -> NDArray[np.float64]:
        """Share of draws in which each arm has the highest value (ties split evenly)."""
        if not self.arms:
            return np.zeros(0)
        best = self.values == self.values.max(axis=1, keepdims=True)
        per_draw = best / best.sum(axis=1, keepdims=True)
        out: NDArray[np.float64] = per_draw.mean(axis=0)
        return out


class Policy(Protocol):
    """A bandit over one campaign's arms.

    Callers guarantee: ``update`` gets the *new* evidence since the previous update (counts
    are added after discounting the old ones); ``n >= 1``. Implementers may assume the
    stats are valid ``ArmStats``. ``select`` on a policy without arms returns zero columns.
    """

    @property
    def arms(self) -> tuple[str, ...]: ...

    def select(self, n: int, rng: np.random.Generator) -> Selection: ...

    def update(self, arm_to_stats: Mapping[str, ArmStats]) -> None: ...

    def to_state(self) -> dict[str, Any]: ...


class _Base:
    """Per-arm counts (columns of ``_COLUMNS``, floats once discounted) and the shared code."""

    kind = ""

    def __init__(self, spec: PolicySpec) -> None:
        self.spec = spec
        self._arms: list[str] = []
        self._index: dict[str, int] = {}
        self._counts = np.zeros((0, len(_COLUMNS)))

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(self._arms)

    def update(self, arm_to_stats: Mapping[str, ArmStats]) -> None:
        self._counts *= self.spec.discount
        new = sorted(a for a in arm_to_stats if a not in self._index)
        for arm in new:
            self._index[arm] = len(self._arms)
            self._arms.append(arm)
        if new:
            self._counts = np.vstack([self._counts, np.zeros((len(new), len(_COLUMNS)))])
        for arm, stats in arm_to_stats.items():
            row = self._counts[self._index[arm]]
            row += [getattr(stats, c) for c in _COLUMNS]

    def select(self, n: int, rng: np.random.Generator) -> Selection:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        return Selection(self.arms, self._draw(n, rng))

    def _draw(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        raise NotImplementedError

    def _successes_trials(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        column = 2 if getattr(self.spec, "objective", Objective.CLICKS) is Objective.CLICKS else 3
        trials = self._counts[:, 1]
        return np.minimum(self._counts[:, column], trials), trials

    def _rho_posterior(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Gamma(shape, rate) posterior of impressions per unit spend."""
        spec = self.spec
        assert not isinstance(spec, UniformSpec)
        prior_spend = spec.prior_impressions * spec.prior_cpm_micros / MICROS_PER_UNIT / 1000.0
        shape = spec.prior_impressions + self._counts[:, 1]
        rate = prior_spend + self._counts[:, 0] / MICROS_PER_UNIT
        return shape, rate

    def to_state(self) -> dict[str, Any]:
        spec = {
            f.name: (v.value if isinstance(v := getattr(self.spec, f.name), Enum) else v)
            for f in fields(self.spec)
        }
        return {
            "kind": self.kind,
            "spec": spec,
            "arms": list(self._arms),
            "counts": self._counts.tolist(),
        }


class _Thompson(_Base):
    kind = "thompson"
    spec: ThompsonSpec

    def _draw(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        s, trials = self._successes_trials()
        k = len(self._arms)
        theta = rng.beta(self.spec.prior_alpha + s, self.spec.prior_beta + trials - s, (n, k))
        shape, rate = self._rho_posterior()
        rho = rng.gamma(shape, 1.0 / rate, (n, k))
        out: NDArray[np.float64] = theta * rho
        return out


def _kl_bernoulli(p: NDArray[np.float64], q: NDArray[np.float64]) -> NDArray[np.float64]:
    eps = 1e-12
    p = np.clip(p, eps, 1 - eps)
    q = np.clip(q, eps, 1 - eps)
    out: NDArray[np.float64] = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    return out


def _kl_ucb(p: NDArray[np.float64], n: NDArray[np.float64], level: float) -> NDArray[np.float64]:
    """Largest ``q in [p, 1]`` with ``n kl(p, q) <= level``, by 50 bisection steps."""
    low, high = p.copy(), np.ones_like(p)
    for _ in range(50):
        mid = (low + high) / 2
        ok = n * _kl_bernoulli(p, mid) <= level
        low = np.where(ok, mid, low)
        high = np.where(ok, high, mid)
    return low


class _UCB(_Base):
    kind = "ucb"
    spec: UCBSpec

    def _draw(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        s, trials = self._successes_trials()
        t = max(float(trials.sum()), 1.0)
        seen = trials > 0
        p = np.where(seen, s / np.maximum(trials, 1.0), 0.0)
        if self.spec.variant is UCBVariant.UCB1:
            bonus = np.sqrt(self.spec.exploration * math.log(t) / np.maximum(trials, 1.0))
            upper = np.minimum(p + bonus, 1.0)
        else:
            level = math.log(t) + (self.spec.c * math.log(math.log(t)) if t > math.e else 0.0)
            upper = _kl_ucb(p, np.maximum(trials, 1.0), level)
        upper = np.where(seen, upper, 1.0)
        shape, rate = self._rho_posterior()
        return np.broadcast_to(upper * shape / rate, (n, len(self._arms))).copy()


class _EpsilonGreedy(_Base):
    kind = "epsilon-greedy"
    spec: EpsilonGreedySpec

    def _draw(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        s, trials = self._successes_trials()
        a, b = self.spec.prior_alpha, self.spec.prior_beta
        shape, rate = self._rho_posterior()
        mean = (a + s) / (a + b + trials) * shape / rate
        k = len(self._arms)
        explore = rng.random(n) < self.spec.epsilon
        values = np.broadcast_to(mean, (n, k)).copy()
        values[explore] = rng.random((int(explore.sum()), k))
        return values


class _Uniform(_Base):
    kind = "uniform"
    spec: UniformSpec

    def _draw(self, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
        return rng.random((n, len(self._arms)))


_KIND_TO_CLASS: dict[str, type[_Base]] = {
    c.kind: c for c in (_Thompson, _UCB, _EpsilonGreedy, _Uniform)
}
_SPEC_TO_KIND: dict[type[Any], str] = {
    ThompsonSpec: "thompson",
    UCBSpec: "ucb",
    EpsilonGreedySpec: "epsilon-greedy",
    UniformSpec: "uniform",
}
_KIND_TO_SPEC = {kind: spec for spec, kind in _SPEC_TO_KIND.items()}
_ENUM_FIELDS: dict[str, type[Enum]] = {"objective": Objective, "variant": UCBVariant}


def build_policy(spec: PolicySpec) -> Policy:
    """A fresh policy (no arms, no evidence) for ``spec``."""
    kind = _SPEC_TO_KIND.get(type(spec))
    if kind is None:
        raise TypeError(f"unknown policy spec {type(spec).__name__}")
    return _KIND_TO_CLASS[kind](spec)


def from_state(state: Mapping[str, Any]) -> Policy:
    """Restore a policy saved by ``to_state()``; raises ``ValueError`` on a malformed state."""
    try:
        kind = state["kind"]
        spec_cls = _KIND_TO_SPEC[kind]
        raw = dict(state["spec"])
        for name, enum in _ENUM_FIELDS.items():
            if name in raw:
                raw[name] = enum(raw[name])
        spec = spec_cls(**raw)
        arms = [str(a) for a in state["arms"]]
        counts = np.asarray(state["counts"], dtype=float).reshape(len(arms), len(_COLUMNS))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed policy state: {exc!r}") from exc
    if len(set(arms)) != len(arms) or (counts < 0).any():
        raise ValueError("malformed policy state: duplicate arms or negative counts")
    policy = _KIND_TO_CLASS[kind](spec)
    policy._arms = arms
    policy._index = {a: i for i, a in enumerate(arms)}
    policy._counts = counts
    return policy


def spec_as_dict(spec: PolicySpec) -> dict[str, Any]:
    """The spec as plain JSON-able values (enums by value)."""
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in asdict(spec).items()}
