"""Benchmark: the bandit allocation vs the oracle and uniform on a synthetic media x hour x creative market.

Market (self-contained; not ``simulator/synth``): arms are ``media|HH|creative`` with
``ctr = base * media_factor * hour_factor * creative_factor * noise`` (log-normal factors),
a CPM per media x hour, and a supply cap per arm (spend it can absorb per step; the
creatives of a media x hour split its supply evenly). Each step spends the same budget
(a quarter of total supply) by the allocation's shares; impressions are
``spend / cpm * 1000`` and clicks ``Binomial(impressions, ctr)``.

- oracle: the fractional knapsack on the true clicks per spend under the caps;
- uniform: equal shares projected onto the caps;
- bandit: ``optimizer.step.step`` each tick on cumulative observations (Thompson, KL-UCB,
  epsilon-greedy), caps passed as ``campaign_to_arm_to_max``.

Expected clicks (``spend * true value``) are compared at equal spend over ``--steps`` ticks
and ``--seeds`` seeds. Writes ``benchmarks/results/bandit-synth-<date>.{json,png}``.
Run: ``.venv/bin/python benchmarks/bench_bandit_synth.py [--seeds 5] [--steps 60]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
from numpy.typing import NDArray

from optimizer.allocator import AllocationSpec, project
from optimizer.arms import ArmStats, Observations
from optimizer.plan import Plan
from optimizer.policies import EpsilonGreedySpec, PolicySpec, ThompsonSpec, UCBSpec
from optimizer.step import OptimizerSpec, step

mpl.use("Agg")
import matplotlib.pyplot as plt

RESULTS = Path(__file__).resolve().parent / "results"
CAMPAIGN = "c"
N_MEDIA, N_HOURS, N_CREATIVES = 4, 24, 3
BUDGET_FRACTION = 0.25


@dataclass(frozen=True)
class Market:
    arms: tuple[str, ...]
    ctr: NDArray[np.float64]
    cpm_micros: NDArray[np.float64]
    cap_micros: NDArray[np.float64]
    budget_micros: float

    @property
    def value(self) -> NDArray[np.float64]:
        """True clicks per micro spent."""
        out: NDArray[np.float64] = self.ctr * 1000.0 / self.cpm_micros
        return out


def build_market(rng: np.random.Generator) -> Market:
    media = rng.lognormal(0.0, 0.5, N_MEDIA)
    hour = np.exp(
        0.4 * np.sin(np.arange(N_HOURS) / N_HOURS * 2 * np.pi) + rng.normal(0, 0.2, N_HOURS)
    )
    creative = rng.lognormal(0.0, 0.3, N_CREATIVES)
    ctr = 0.004 * media[:, None, None] * hour[None, :, None] * creative[None, None, :]
    ctr = np.clip(ctr * rng.lognormal(0.0, 0.2, ctr.shape), 1e-5, 0.2)
    cpm = 1_500_000 * rng.lognormal(0.0, 0.3, (N_MEDIA, N_HOURS, 1)) * np.ones_like(ctr)
    supply = 20_000_000 * rng.lognormal(0.0, 0.5, (N_MEDIA, N_HOURS, 1)) / N_CREATIVES
    cap = supply * np.ones_like(ctr)
    arms = tuple(
        f"m{m}|{h:02d}|cr{c}"
        for m in range(N_MEDIA)
        for h in range(N_HOURS)
        for c in range(N_CREATIVES)
    )
    return Market(arms, ctr.ravel(), cpm.ravel(), cap.ravel(), BUDGET_FRACTION * cap.sum())


def oracle_shares(market: Market) -> NDArray[np.float64]:
    caps = market.cap_micros / market.budget_micros
    order = np.argsort(-market.value)
    fill = np.clip(1.0 - (np.cumsum(caps[order]) - caps[order]), 0.0, caps[order])
    shares = np.zeros_like(caps)
    shares[order] = fill
    return shares


def uniform_shares(market: Market) -> NDArray[np.float64]:
    caps = np.minimum(market.cap_micros / market.budget_micros, 1.0)
    k = len(caps)
    return project(np.full(k, 1.0 / k), np.zeros(k), caps)


def run_bandit(
    market: Market, policy: PolicySpec, steps: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Expected clicks per step of the bandit allocation."""
    spec = OptimizerSpec(
        policy=policy, arms=AllocationSpec(floor=0.00005, max_move=0.2, n_samples=400)
    )
    caps = {
        a: min(c / market.budget_micros, 1.0)
        for a, c in zip(market.arms, market.cap_micros, strict=True)
    }
    cumulative = Observations({CAMPAIGN: {a: ArmStats() for a in market.arms}})
    plan = Plan()
    expected = np.empty(steps)
    for t in range(steps):
        result = step(
            plan, cumulative, float(t), spec, rng, campaign_to_arm_to_max={CAMPAIGN: caps}
        )
        plan = result.plan
        shares = np.array([plan.arm_shares[CAMPAIGN][a] for a in market.arms])
        spend = np.floor(shares * market.budget_micros)
        expected[t] = float(spend @ market.value)
        imps = np.floor(spend / market.cpm_micros * 1000).astype(np.int64)
        clicks = rng.binomial(imps, market.ctr)
        tick = {
            a: ArmStats(int(s), int(i), int(c))
            for a, s, i, c in zip(market.arms, spend, imps, clicks, strict=True)
        }
        cumulative = cumulative.merge(Observations({CAMPAIGN: tick}))
    return expected


POLICIES: dict[str, PolicySpec] = {
    "thompson": ThompsonSpec(prior_cpm_micros=1_500_000),
    "kl-ucb": UCBSpec(prior_cpm_micros=1_500_000),
    "epsilon-greedy": EpsilonGreedySpec(epsilon=0.1, prior_cpm_micros=1_500_000),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    per_seed: list[dict[str, object]] = []
    curves: dict[str, list[NDArray[np.float64]]] = {name: [] for name in POLICIES}
    for seed in range(args.seeds):
        market_seed, *policy_seeds = np.random.SeedSequence(seed).spawn(1 + len(POLICIES))
        market = build_market(np.random.default_rng(market_seed))
        oracle = float(oracle_shares(market) * market.budget_micros @ market.value)
        uniform = float(uniform_shares(market) * market.budget_micros @ market.value)
        row: dict[str, object] = {
            "seed": seed,
            "oracle_per_step": oracle,
            "uniform_per_step": uniform,
        }
        for (name, policy), pseed in zip(POLICIES.items(), policy_seeds, strict=True):
            clicks = run_bandit(market, policy, args.steps, np.random.default_rng(pseed))
            curves[name].append(np.cumsum(oracle - clicks))
            row[name] = {
                "clicks": float(clicks.sum()),
                "oracle_ratio": float(clicks.sum() / (oracle * args.steps)),
                "uniform_ratio": float(clicks.sum() / (uniform * args.steps)),
                "last_step_oracle_ratio": float(clicks[-1] / oracle),
            }
        per_seed.append(row)
        print(json.dumps(row))
    summary = {
        name: {
            "mean_oracle_ratio": float(np.mean([r[name]["oracle_ratio"] for r in per_seed])),  # type: ignore[index]
            "mean_uniform_ratio": float(np.mean([r[name]["uniform_ratio"] for r in per_seed])),  # type: ignore[index]
        }
        for name in POLICIES
    }
    print(json.dumps(summary, indent=2))
    today = dt.date.today().isoformat()
    RESULTS.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, runs in curves.items():
        ax.plot(np.mean(runs, axis=0), label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("cumulative regret (expected clicks vs oracle)")
    ax.set_title(f"media x hour x creative market, {args.seeds} seeds")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / f"bandit-synth-{today}.png", dpi=100)
    payload = {
        "date": today,
        "seeds": args.seeds,
        "steps": args.steps,
        "arms": N_MEDIA * N_HOURS * N_CREATIVES,
        "budget_fraction_of_supply": BUDGET_FRACTION,
        "summary": summary,
        "per_seed": per_seed,
    }
    (RESULTS / f"bandit-synth-{today}.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {RESULTS / f'bandit-synth-{today}.json'}")


if __name__ == "__main__":
    main()
