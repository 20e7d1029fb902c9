"""SS-MDP: the budget MDP of sponsored search, bidding without the auction's pCTR."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bidder.errors import Problem
from bidder.strategies.base import Strategy, TrainStats
from bidder.strategies.rlb import DpStrategy, landscape_of


@dataclass(frozen=True, slots=True)
class SsMdpSpec:
    """SS-MDP: the RLB value function's action with every auction valued at ``theta_avg``.

    Amin et al., "Budget optimization for sponsored search: censored learning in MDPs",
    UAI'12, as used for display ads by Cai et al., WSDM'17 (section 5.2, baseline
    "SS-MDP"): the state is ``(t, b)`` only, so the bid ignores the request's features,

        a(t, b) = max{ a <= min(b, a_max) : theta_avg + V(t-1, b-a) - V(t-1, b) >= 0 },

    with ``V`` solved on the training market-price pdf and ``theta_avg`` the training CTR.
    """

    NAME: ClassVar[str] = "ss_mdp"
    PARAMS: ClassVar[tuple[str, ...]] = ()

    def problems(self) -> list[Problem]:
        return []

    def build(self, stats: TrainStats, rng: np.random.Generator | None) -> Strategy:
        theta_avg = stats.avg_ctr
        landscape = landscape_of(stats, self.NAME)
        return DpStrategy(self.NAME, {}, landscape, theta_avg, lambda: lambda _pctr: theta_avg)
