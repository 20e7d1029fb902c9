"""Ground-truth CTR of the synthetic market: a logistic model with main effects and interactions.

For an impression opportunity ``i`` shown creative ``r`` of campaign ``k``:

.. math::

    \\eta_i = \\beta_0 + a^{ex}_{e} + a^{dom}_{d} + a^{size}_{s} + a^{pos}_{p} + a^{hour}_{h}
        + a^{wd}_{w} + a^{os}_{o(u)} + a^{br}_{b(u)} + a^{city}_{c}
        + \\sum_{t \\in T_i} \\left(a^{tag}_t + g^{tag \\times size}_{t, G(s)}\\right)
        + a^{camp}_{k} + a^{cr}_{r} + g^{cr \\times pos}_{r, p}
        + g^{cat \\times hour}_{\\kappa(d), \\lfloor h / 4 \\rfloor}
        + \\beta_{floor} \\, \\frac{\\log(1 + f) - \\mu_f}{\\sigma_f}

    p_i = \\sigma(\\eta_i) = 1 / (1 + e^{-\\eta_i})

with ``e`` exchange, ``d`` domain, ``s`` slot size, ``p`` banner position (0, 1, 3 as in
OpenRTB), ``h`` local hour, ``w`` iPinYou weekday (0 = Sunday), ``u`` user agent (split into
OS ``o`` and browser ``b``), ``c`` city, ``T_i`` the user's audience tags, ``G(s)`` the size
group (rectangle, leaderboard, skyscraper), ``\\kappa(d)`` the domain's hidden category
(8 categories), ``f`` the floor in fen CPM. Every effect is drawn once per world seed from a
zero-mean normal (scales in :data:`EFFECT_SCALES`; position and hour have a fixed shape plus
noise). ``\\beta_0`` is solved so the traffic-weighted mean CTR equals ``target_ctr``
(0.8 % by default, see ``simulator.synth.market.TARGET_CTR``). Interactions stay low-order
over well-supported values, so a model trained on enough rows can approach the oracle AUC.

The weekday effect is kept small (scale 0.02, about +-2 % CTR): a market spans one week
and models are validated on a time split, so the validation and test days are weekdays
the training split never saw. Their level cannot be learned and showed up only as a
calibration shift (test predicted/observed 0.92 on 2M rows at scale 0.08).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from simulator.synth.inventory import CATEGORIES, POSITIONS, SIZE_GROUPS, Inventory
from simulator.synth.marginals import FloatArray, IntArray, Marginals

BoolArray = npt.NDArray[np.bool_]
HOUR_BLOCKS = 6  # hour // 4
_CHUNK_ROWS = 65_536
INTERACTING_TAGS = 24  # the most frequent tags get a tag x size-group effect

EFFECT_SCALES = {
    "exchange": 0.25,
    "domain": 0.45,
    "size": 0.30,
    "position": 0.05,
    "hour": 0.05,
    "weekday": 0.02,  # unlearnable under a time split of one week: see module doc
    "os": 0.20,
    "browser": 0.15,
    "city": 0.15,
    "tag": 0.15,
    "campaign": 0.25,
    "creative": 0.35,
    "tag_x_size_group": 0.30,
    "creative_x_position": 0.30,
    "category_x_hour_block": 0.30,
}
POSITION_SHAPE = (0.0, 0.40, 0.15)  # pos 0 (unknown/below), 1 (first view), 3 (second view)
HOUR_AMPLITUDE = 0.20  # cos bump peaking at 21:00
FLOOR_COEF = 0.12


@dataclass(frozen=True, slots=True)
class FeatureColumns:
    """Index-coded features of ``n`` rows, the inputs of :meth:`TruthModel.ctr`.

    All arrays have shape (n,) except ``tags`` (n, T), a boolean membership matrix over
    ``Marginals.tags``. Indices refer to the world's vocabularies: ``domain`` to
    ``Inventory.domain_names``, ``size`` to ``Inventory.sizes``, ``position`` to
    ``POSITIONS``, ``useragent`` to ``Marginals.useragents``, ``city`` to
    ``Marginals.cities``, ``creative`` to ``campaign * M + m``.
    """

    exchange: IntArray
    domain: IntArray
    size: IntArray
    position: IntArray
    hour: IntArray
    weekday: IntArray
    useragent: IntArray
    city: IntArray
    tags: BoolArray
    campaign: IntArray
    creative: IntArray
    floor_fen: IntArray

    def with_creative(self, campaign: IntArray, creative: IntArray) -> FeatureColumns:
        """The same rows shown another (campaign, creative): a counterfactual."""
        return dataclasses.replace(self, campaign=campaign, creative=creative)


@dataclass(frozen=True, slots=True)
class TruthModel:
    """Parameters of the ground-truth logistic CTR (see the module docstring)."""

    intercept: float
    exchange: FloatArray
    domain: FloatArray
    domain_category: IntArray
    size: FloatArray
    size_group_of: IntArray
    position: FloatArray
    hour: FloatArray
    weekday: FloatArray
    ua_os: IntArray  # useragent index -> os index
    ua_browser: IntArray
    os: FloatArray
    browser: FloatArray
    city: FloatArray
    tag: FloatArray
    tag_x_size_group: FloatArray  # (T, 3)
    campaign: FloatArray
    creative: FloatArray  # (K * M,)
    creative_x_position: FloatArray  # (K * M, 3)
    category_x_hour_block: FloatArray  # (8, 6)
    floor_coef: float
    floor_mu: float
    floor_sd: float

    @property
    def creatives_per_campaign(self) -> int:
        return len(self.creative) // len(self.campaign)

    def logit(self, x: FeatureColumns) -> FloatArray:
        """:math:`\\eta` of each row, shape (n,)."""
        tag_part = self._tag_part(x.tags, self.size_group_of[x.size])
        floor_z = (np.log1p(x.floor_fen) - self.floor_mu) / self.floor_sd
        eta = (
            self.intercept
            + self.exchange[x.exchange]
            + self.domain[x.domain]
            + self.size[x.size]
            + self.position[x.position]
            + self.hour[x.hour]
            + self.weekday[x.weekday]
            + self.os[self.ua_os[x.useragent]]
            + self.browser[self.ua_browser[x.useragent]]
            + self.city[x.city]
            + tag_part
            + self.campaign[x.campaign]
            + self.creative[x.creative]
            + self.creative_x_position[x.creative, x.position]
            + self.category_x_hour_block[self.domain_category[x.domain], x.hour // 4]
            + self.floor_coef * floor_z
        )
        return np.asarray(eta, dtype=np.float64)

    def _tag_part(self, tags: BoolArray, group: IntArray) -> FloatArray:
        """:math:`\\sum_{t \\in T_i} (a^{tag}_t + g_{t, G(s_i)})`, in row chunks to bound memory."""
        weights = self.tag[:, None] + self.tag_x_size_group  # (T, 3)
        out = np.empty(len(group), dtype=np.float64)
        for start in range(0, len(group), _CHUNK_ROWS):
            sl = slice(start, start + _CHUNK_ROWS)
            per_group = tags[sl].astype(np.float64) @ weights
            out[sl] = np.take_along_axis(per_group, group[sl, None], axis=1)[:, 0]
        return out

    def ctr(self, x: FeatureColumns) -> FloatArray:
        """True click probability :math:`p = \\sigma(\\eta)` of each row, shape (n,)."""
        return 1.0 / (1.0 + np.exp(-self.logit(x)))

    def ctr_by_creative(self, x: FeatureColumns) -> FloatArray:
        """Counterfactual CTR of each row under each creative of its campaign, shape (n, M).

        Column ``m`` is the CTR had the row shown creative ``campaign * M + m``; the row's
        own campaign is kept. This is the oracle for creative selection.
        """
        m_count = self.creatives_per_campaign
        base = self.logit(x) - self.creative[x.creative]
        base = base - self.creative_x_position[x.creative, x.position]
        cols = x.campaign[:, None] * m_count + np.arange(m_count)[None, :]
        eta = (
            base[:, None]
            + self.creative[cols]
            + self.creative_x_position[cols, x.position[:, None]]
        )
        return np.asarray(1.0 / (1.0 + np.exp(-eta)), dtype=np.float64)

    def calibrated(self, x: FeatureColumns, target_ctr: float) -> TruthModel:
        """A copy whose intercept makes the mean of :meth:`ctr` over ``x`` equal ``target_ctr``.

        Solves :math:`\\frac1n \\sum_i \\sigma(\\beta_0 + \\eta_i - \\beta_0^{old}) = \\bar p`
        by Newton steps (the mean is increasing and convex-concave in :math:`\\beta_0`).
        """
        eta0 = self.logit(x) - self.intercept
        b0 = float(np.log(target_ctr / (1.0 - target_ctr)))
        for _ in range(50):
            p = 1.0 / (1.0 + np.exp(-(eta0 + b0)))
            gap = float(p.mean()) - target_ctr
            if abs(gap) < 1e-12:
                break
            b0 -= gap / float((p * (1.0 - p)).mean())
        return dataclasses.replace(self, intercept=b0)

    def describe(self, inventory: Inventory, marginals: Marginals) -> dict[str, Any]:
        """The parameters with their labels, JSON-ready (for ``meta.json``)."""

        def labelled(labels: Any, values: FloatArray) -> dict[str, float]:
            return {str(k): round(float(v), 6) for k, v in zip(labels, values, strict=True)}

        creatives = creative_ids(len(self.campaign), self.creatives_per_campaign)
        domains = [d.decode() for d in inventory.domain_names.tolist()]
        oses, browsers = ua_vocab(marginals.useragents)
        return {
            "formula": "p = sigmoid(eta); see simulator/synth/truth.py",
            "intercept": round(self.intercept, 6),
            "exchange": labelled(inventory.exchange_labels, self.exchange),
            "domain": labelled(domains, self.domain),
            "domain_category": {
                d: CATEGORIES[c] for d, c in zip(domains, self.domain_category, strict=True)
            },
            "size": labelled([f"{w}x{h}" for w, h in inventory.sizes], self.size),
            "size_group": {
                f"{w}x{h}": SIZE_GROUPS[g]
                for (w, h), g in zip(inventory.sizes, self.size_group_of, strict=True)
            },
            "position": labelled(POSITIONS, self.position),
            "hour": labelled(range(24), self.hour),
            "weekday_sunday0": labelled(range(7), self.weekday),
            "os": labelled(oses, self.os),
            "browser": labelled(browsers, self.browser),
            "city": labelled(marginals.cities, self.city),
            "tag": labelled(marginals.tags, self.tag),
            "tag_x_size_group": {
                t: labelled(SIZE_GROUPS, row)
                for t, row in zip(marginals.tags, self.tag_x_size_group, strict=True)
                if np.any(row)
            },
            "campaign": labelled(campaign_ids(len(self.campaign)), self.campaign),
            "creative": labelled(creatives, self.creative),
            "creative_x_position": {
                c: labelled(POSITIONS, row)
                for c, row in zip(creatives, self.creative_x_position, strict=True)
            },
            "category_x_hour_block": {
                c: labelled([f"{4 * b:02d}-{4 * b + 3:02d}" for b in range(HOUR_BLOCKS)], row)
                for c, row in zip(CATEGORIES, self.category_x_hour_block, strict=True)
            },
            "floor": {"coef": self.floor_coef, "mu": self.floor_mu, "sd": self.floor_sd},
        }


def campaign_ids(k: int) -> list[str]:
    """Advertiser column values: ``synth-1`` ... ``synth-K``."""
    return [f"synth-{i + 1}" for i in range(k)]


def creative_ids(k: int, m: int) -> list[str]:
    """Creative column values ``cr-<k>-<m>`` (1-based), campaign-major."""
    return [f"cr-{i + 1}-{j + 1}" for i in range(k) for j in range(m)]


def ua_vocab(useragents: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Distinct OS and browser labels of iPinYou ``os_browser`` user agents, in order seen."""
    oses: list[str] = []
    browsers: list[str] = []
    for ua in useragents:
        os_name, _, browser = ua.partition("_")
        if os_name not in oses:
            oses.append(os_name)
        if (browser or "other") not in browsers:
            browsers.append(browser or "other")
    return oses, browsers


def build_truth(
    marginals: Marginals,
    inventory: Inventory,
    campaigns: int,
    creatives_per_campaign: int,
    rng: np.random.Generator,
) -> TruthModel:
    """Draw an uncalibrated truth (intercept 0); call :meth:`TruthModel.calibrated` next.

    Campaign and creative effects come from a child seed drawn last, so worlds that differ
    only in ``campaigns`` / ``creatives_per_campaign`` share every other effect.
    """
    sc = EFFECT_SCALES
    oses, browsers = ua_vocab(marginals.useragents)
    n_tags = len(marginals.tags)
    hours = np.arange(24)
    inter = np.zeros((n_tags, len(SIZE_GROUPS)))
    n_inter = min(INTERACTING_TAGS, n_tags)
    # each draw below consumes rng in a fixed order: keep it, or old worlds change
    exchange = rng.normal(0.0, sc["exchange"], len(inventory.exchange_labels))
    domain = rng.normal(0.0, sc["domain"], len(inventory.domain_names))
    size = rng.normal(0.0, sc["size"], len(inventory.sizes))
    position = np.array(POSITION_SHAPE) + rng.normal(0.0, sc["position"], len(POSITIONS))
    hour = HOUR_AMPLITUDE * np.cos(2 * np.pi * (hours - 21) / 24) + rng.normal(0, sc["hour"], 24)
    weekday = rng.normal(0.0, sc["weekday"], 7)
    os_eff = rng.normal(0.0, sc["os"], len(oses))
    browser = rng.normal(0.0, sc["browser"], len(browsers))
    city = rng.normal(0.0, sc["city"], len(marginals.cities))
    tag = rng.normal(0.0, sc["tag"], n_tags)
    inter[:n_inter] = rng.normal(0.0, sc["tag_x_size_group"], (n_inter, len(SIZE_GROUPS)))
    cat_hour = rng.normal(0.0, sc["category_x_hour_block"], (len(CATEGORIES), HOUR_BLOCKS))
    ad_rng = np.random.default_rng(rng.integers(0, 2**63))
    n_cr = campaigns * creatives_per_campaign
    return TruthModel(
        intercept=0.0,
        exchange=exchange,
        domain=domain,
        domain_category=inventory.domain_category,
        size=size,
        size_group_of=inventory.size_group_of,
        position=position,
        hour=hour,
        weekday=weekday,
        ua_os=np.array([oses.index(u.partition("_")[0]) for u in marginals.useragents]),
        ua_browser=np.array(
            [browsers.index(u.partition("_")[2] or "other") for u in marginals.useragents]
        ),
        os=os_eff,
        browser=browser,
        city=city,
        tag=tag,
        tag_x_size_group=inter,
        campaign=ad_rng.normal(0.0, sc["campaign"], campaigns),
        creative=ad_rng.normal(0.0, sc["creative"], n_cr),
        creative_x_position=ad_rng.normal(0.0, sc["creative_x_position"], (n_cr, len(POSITIONS))),
        category_x_hour_block=cat_hour,
        floor_coef=FLOOR_COEF,
        floor_mu=0.0,
        floor_sd=1.0,
    )
