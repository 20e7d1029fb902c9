"""Drawing a synthetic market: the world (inventory + truth + prices) and its rows.

A *world* (seeded by ``world_seed``) fixes domains, slots, the ground-truth CTR and the
market-price model; a *market* (seeded by ``seed``) draws rows of impression opportunities
from it: time, placement, user, campaign + creative, true CTR, click, market price and the
logged bid. Every column is drawn as a numpy array.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from simulator.synth.inventory import (
    PAGES_PER_DOMAIN,
    BytesArray,
    Inventory,
    build_inventory,
    random_hex,
)
from simulator.synth.marginals import FloatArray, IntArray, Marginals, load_marginals
from simulator.synth.truth import BoolArray, FeatureColumns, TruthModel, build_truth

DEFAULT_WORLD_SEED = 20130606
# Mean CTR of the market: near the top of the realistic display range (0.05-1 %), so a
# few million rows give the CTR model tens of thousands of clicks (0.3 % left the
# decile calibration noise-dominated: ~40 test clicks per decile on 1M rows).
TARGET_CTR = 0.008
CALIBRATION_ROWS = 200_000
START_LOCAL = dt.datetime(2013, 6, 6)  # a Thursday, iPinYou season 2
TZ_OFFSET = dt.timedelta(hours=8)  # iPinYou timestamps are China local time (UTC+8)
START_UTC_MS = int((START_LOCAL - TZ_OFFSET).replace(tzinfo=dt.UTC).timestamp() * 1000)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_USER_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~", dtype=np.uint8
)


@dataclass(frozen=True, slots=True)
class PriceModel:
    """Market price (fen CPM) by a Gaussian copula on the pooled iPinYou histograms.

    .. math::

        z_i = \\rho_f z^{floor}_i + \\rho_c z^{\\eta}_i + \\sqrt{1 - \\rho_f^2 - \\rho_c^2}\\,
              \\varepsilon_i, \\qquad
        \\text{price}_i = F^{-1}(\\Phi(z_i))

    with :math:`z^{floor}` the standardised :math:`\\log(1 + floor)`, :math:`z^{\\eta}` the
    standardised truth logit, :math:`\\varepsilon \\sim N(0, 1)` and :math:`F` the CDF of
    the equal-weight mixture of the nine rlb-dp ``price_counter_train`` histograms.
    """

    cdf: FloatArray  # (301,) mixture CDF over prices 0..300
    rho_floor: float
    rho_ctr: float
    floor_mu: float
    floor_sd: float
    eta_mu: float
    eta_sd: float

    def draw(self, floor_fen: IntArray, eta: FloatArray, rng: np.random.Generator) -> IntArray:
        """Market price of each row, integer fen CPM in [0, 300], shape (n,)."""
        zf = (np.log1p(floor_fen) - self.floor_mu) / self.floor_sd
        ze = (eta - self.eta_mu) / self.eta_sd
        rest = np.sqrt(1.0 - self.rho_floor**2 - self.rho_ctr**2)
        z = self.rho_floor * zf + self.rho_ctr * ze + rest * rng.standard_normal(len(eta))
        idx = np.searchsorted(self.cdf, np.asarray(ndtr(z), dtype=np.float64), side="left")
        return np.minimum(idx, len(self.cdf) - 1).astype(np.int64)


@dataclass(frozen=True, slots=True)
class World:
    """Everything fixed by the world seed: tables, inventory, truth and price model."""

    seed: int
    campaigns: int
    creatives_per_campaign: int
    marginals: Marginals
    inventory: Inventory
    truth: TruthModel
    price: PriceModel


@dataclass(frozen=True, slots=True)
class MarketRows:
    """The ``n`` drawn rows of a market, in time order (arrays of shape (n,))."""

    features: FeatureColumns
    local_ms: IntArray  # ms since START_LOCAL, local time
    slot: IntArray  # index into the inventory's slot arrays
    page: IntArray  # index into Inventory.page_urls
    region: IntArray  # index into Marginals.regions
    ip: BytesArray
    user_id: BytesArray
    bidid: BytesArray
    true_ctr: FloatArray  # rounded to 1e-10, the probability clicks were drawn with
    click: IntArray
    market_price: IntArray  # fen CPM
    bidprice: IntArray  # fen CPM, the logged bidder's bid

    @property
    def timestamp_ms(self) -> IntArray:
        """UTC epoch milliseconds of each row."""
        return START_UTC_MS + self.local_ms

    def __len__(self) -> int:
        return len(self.local_ms)


def _categorical(rng: np.random.Generator, probs: FloatArray, n: int) -> IntArray:
    cdf = np.cumsum(probs)
    idx = np.searchsorted(cdf / cdf[-1], rng.random(n), side="right")
    return np.minimum(idx, len(probs) - 1).astype(np.int64)


def _draw_tags(marginals: Marginals, n: int, rng: np.random.Generator) -> BoolArray:
    """Tag sets: a count from the fitted tags-per-row law, then tags without replacement
    with probability proportional to frequency (Gumbel top-k), in row chunks."""
    n_tags = len(marginals.tags)
    k = np.minimum(
        marginals.tags_per_row[_categorical(rng, marginals.tags_per_row_probs, n)], n_tags
    )
    log_p = np.log(marginals.tag_probs)
    out = np.zeros((n, n_tags), dtype=np.bool_)
    chunk = 65_536
    for start in range(0, n, chunk):
        kc = k[start : start + chunk]
        keys = log_p + rng.gumbel(size=(len(kc), n_tags))
        ordered = -np.sort(-keys, axis=1)
        thresh = ordered[np.arange(len(kc)), np.maximum(kc - 1, 0)]
        out[start : start + chunk] = (keys >= thresh[:, None]) & (kc[:, None] > 0)
    return out


def _draw_features(
    world: World, hour: IntArray, weekday: IntArray, rng: np.random.Generator
) -> tuple[FeatureColumns, IntArray, IntArray]:
    """Placement, user and ad features for rows at the given hours; also slot and page."""
    n = len(hour)
    inv, m = world.inventory, world.marginals
    domain = _categorical(rng, inv.domain_probs, n)
    slot = np.searchsorted(inv.slot_cum, domain + rng.random(n), side="right").astype(np.int64)
    page = domain * PAGES_PER_DOMAIN + _categorical(rng, inv.page_probs, n)
    campaign = rng.integers(0, world.campaigns, n)
    creative = campaign * world.creatives_per_campaign + rng.integers(
        0, world.creatives_per_campaign, n
    )
    features = FeatureColumns(
        exchange=inv.domain_exchange[domain],
        domain=domain,
        size=inv.slot_size[slot],
        position=inv.visibility_pos[inv.slot_visibility[slot]],
        hour=hour,
        weekday=weekday,
        useragent=_categorical(rng, m.useragent_probs, n),
        city=_categorical(rng, m.city_probs, n),
        tags=_draw_tags(m, n, rng),
        campaign=campaign,
        creative=creative,
        floor_fen=inv.slot_floor_fen[slot],
    )
    return features, slot, page


def _draw_local_ms(marginals: Marginals, n: int, rng: np.random.Generator) -> IntArray:
    """Sorted local times in the week from START_LOCAL: day by weekday share, fitted hour."""
    first_weekday = (START_LOCAL.isoweekday()) % 7  # iPinYou: 0 = Sunday
    day_p = marginals.weekday_probs[(first_weekday + np.arange(7)) % 7]
    day = _categorical(rng, day_p, n)
    hour = _categorical(rng, marginals.hour_probs, n)
    t = day * DAY_MS + hour * HOUR_MS + rng.integers(0, HOUR_MS, n)
    return np.sort(t)


def hour_weekday(local_ms: IntArray) -> tuple[IntArray, IntArray]:
    """Local hour (0-23) and iPinYou weekday (0 = Sunday) of times since START_LOCAL."""
    first_weekday = (START_LOCAL.isoweekday()) % 7
    return (local_ms % DAY_MS) // HOUR_MS, (first_weekday + local_ms // DAY_MS) % 7


def _random_strings(rng: np.random.Generator, n: int, prefix: bytes, length: int) -> BytesArray:
    chars = np.empty((n, len(prefix) + length), dtype=np.uint8)
    chars[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    chars[:, len(prefix) :] = _USER_ALPHABET[rng.integers(0, len(_USER_ALPHABET), (n, length))]
    return chars.view(f"S{len(prefix) + length}").ravel()


def _draw_ip(marginals: Marginals, n: int, rng: np.random.Generator) -> BytesArray:
    """Anonymised IPs ``a.b.c.*``: fitted /16 prefix, uniform third octet."""
    prefixes = np.array([p.encode() + b"." for p in marginals.ip_prefixes], dtype=np.bytes_)
    third = rng.integers(0, 256, n).astype("S3")
    return np.strings.add(
        np.strings.add(prefixes[_categorical(rng, marginals.ip_prefix_probs, n)], third), b".*"
    )


def _logged_bid(true_ctr: FloatArray, rng: np.random.Generator) -> IntArray:
    """A noisy linear bidder: :math:`b = \\min(300, 90 \\hat p / \\bar p)`,
    :math:`\\hat p = p \\exp(0.5 \\varepsilon - 0.125)`, :math:`\\bar p` the target CTR."""
    noisy = true_ctr * np.exp(0.5 * rng.standard_normal(len(true_ctr)) - 0.125)
    return np.minimum(np.rint(90.0 * noisy / TARGET_CTR), 300).astype(np.int64)


def draw_market(world: World, rows: int, seed: int) -> MarketRows:
    """Draw ``rows`` rows in time order; same (world, rows, seed) -> same arrays."""
    seeds = np.random.SeedSequence(seed).spawn(6)
    rngs = [np.random.default_rng(s) for s in seeds]
    local_ms = _draw_local_ms(world.marginals, rows, rngs[0])
    hour, weekday = hour_weekday(local_ms)
    features, slot, page = _draw_features(world, hour, weekday, rngs[1])
    eta = world.truth.logit(features)
    true_ctr = np.round(1.0 / (1.0 + np.exp(-eta)), 10)
    user_rng = rngs[2]
    return MarketRows(
        features=features,
        local_ms=local_ms,
        slot=slot,
        page=page,
        region=_categorical(user_rng, world.marginals.region_probs, rows),
        ip=_draw_ip(world.marginals, rows, user_rng),
        user_id=_random_strings(user_rng, rows, b"D", 10),
        bidid=random_hex(user_rng, rows),
        true_ctr=true_ctr,
        click=(rngs[3].random(rows) < true_ctr).astype(np.int64),
        market_price=world.price.draw(features.floor_fen, eta, rngs[4]),
        bidprice=_logged_bid(true_ctr, rngs[5]),
    )


def build_world(
    world_seed: int = DEFAULT_WORLD_SEED,
    campaigns: int = 3,
    creatives_per_campaign: int = 3,
    marginals: Marginals | None = None,
    target_ctr: float = TARGET_CTR,
) -> World:
    """Build the world: inventory, truth (calibrated to ``target_ctr``) and price model.

    Seeds fan out first: inventory, truth effects, calibration sample.
    """
    if campaigns < 1 or creatives_per_campaign < 1:
        raise ValueError("campaigns and creatives_per_campaign must be >= 1")
    m = load_marginals() if marginals is None else marginals
    inv_seed, truth_seed, cal_seed = np.random.SeedSequence(world_seed).spawn(3)
    inventory = build_inventory(m, np.random.default_rng(inv_seed))
    truth = build_truth(
        m, inventory, campaigns, creatives_per_campaign, np.random.default_rng(truth_seed)
    )
    hist = m.market_price_histograms.mean(axis=0)
    cdf = np.cumsum(hist) / hist.sum()
    draft = World(world_seed, campaigns, creatives_per_campaign, m, inventory, truth, _NULL_PRICE)
    cal_rng = np.random.default_rng(cal_seed)
    hour = _categorical(cal_rng, m.hour_probs, CALIBRATION_ROWS)
    weekday = _categorical(cal_rng, m.weekday_probs, CALIBRATION_ROWS)
    features, _, _ = _draw_features(draft, hour, weekday, cal_rng)
    log_floor = np.log1p(features.floor_fen)
    truth = _replace_floor_scale(truth, float(log_floor.mean()), float(log_floor.std()))
    truth = truth.calibrated(features, target_ctr)
    eta = truth.logit(features)
    price = PriceModel(
        cdf=cdf,
        rho_floor=0.35,
        rho_ctr=0.20,
        floor_mu=float(log_floor.mean()),
        floor_sd=float(log_floor.std()),
        eta_mu=float(eta.mean()),
        eta_sd=float(eta.std()),
    )
    return World(world_seed, campaigns, creatives_per_campaign, m, inventory, truth, price)


def _replace_floor_scale(truth: TruthModel, mu: float, sd: float) -> TruthModel:
    return dataclasses.replace(truth, floor_mu=mu, floor_sd=max(sd, 1e-9))


_NULL_PRICE = PriceModel(np.ones(1), 0.0, 0.0, 0.0, 1.0, 0.0, 1.0)
