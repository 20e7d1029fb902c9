"""The synthetic world's inventory: domains, their hidden categories, slots and pages.

Built once from the marginals and a world seed, so every market drawn from the same world
seed shares the same domains and slots (a model trained on one seed applies to another).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.synth.marginals import FloatArray, IntArray, Marginals

BytesArray = npt.NDArray[np.bytes_]

CATEGORIES = ("news", "sports", "entertainment", "finance", "autos", "games", "tech", "lifestyle")
SIZE_GROUPS = ("rectangle", "leaderboard", "skyscraper")
# OpenRTB banner.pos from iPinYou slotvisibility (bidder/features.py convention)
VISIBILITY_TO_POS = {"FirstView": 1, "1": 1, "SecondView": 3, "2": 3}
POSITIONS = (0, 1, 3)  # pos values; truth indexes them 0, 1, 2
PAGES_PER_DOMAIN = 64
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def random_hex(rng: np.random.Generator, count: int, nbytes: int = 16) -> BytesArray:
    """``count`` random lowercase hex strings of ``2 * nbytes`` characters (md5-like)."""
    raw = rng.integers(0, 256, size=(count, nbytes), dtype=np.uint8)
    chars = np.empty((count, 2 * nbytes), dtype=np.uint8)
    chars[:, 0::2] = _HEX[raw >> 4]
    chars[:, 1::2] = _HEX[raw & 15]
    return chars.view(f"S{2 * nbytes}").ravel()


def size_group(width: int, height: int) -> int:
    """Index into :data:`SIZE_GROUPS`: wide (w >= 3h) leaderboard, tall (h >= 2w), else rectangle."""
    if width >= 3 * height:
        return 1
    if height >= 2 * width:
        return 2
    return 0


@dataclass(frozen=True, slots=True)
class Inventory:
    """Domains and slots of the world; slot arrays are sorted by domain.

    ``domain_probs`` (D,) is the traffic share of each domain (exchange share times the
    fitted rank popularity inside the exchange). ``slot_cum`` (S,) is, per slot, its
    domain index plus the cumulative within-domain weight, so one ``searchsorted`` of
    ``domain + u`` picks a slot of the row's domain.
    """

    exchange_labels: tuple[str, ...]
    domain_names: BytesArray  # (D,) 32-hex
    domain_exchange: IntArray  # (D,) index into exchange_labels
    domain_category: IntArray  # (D,) index into CATEGORIES (hidden from the logs)
    domain_probs: FloatArray  # (D,)
    sizes: tuple[tuple[int, int], ...]  # size vocabulary
    size_group_of: IntArray  # (sizes,) index into SIZE_GROUPS
    visibilities: tuple[str, ...]  # visibility vocabulary
    visibility_pos: IntArray  # (visibilities,) position index into POSITIONS
    slot_domain: IntArray  # (S,)
    slot_cum: FloatArray  # (S,)
    slot_ids: BytesArray  # (S,)
    slot_size: IntArray  # (S,) index into sizes
    slot_visibility: IntArray  # (S,) index into visibilities
    slot_floor_fen: IntArray  # (S,)
    page_urls: BytesArray  # (D * PAGES_PER_DOMAIN,) 32-hex, domain-major
    page_probs: FloatArray  # (PAGES_PER_DOMAIN,)


def _slot_id(rng: np.random.Generator, style: str, category: int, m: Marginals) -> str:
    if style == "mm":
        a, b, c = rng.integers(10**7, 10**8), rng.integers(10**6, 10**7), rng.integers(10**6, 10**8)
        return f"mm_{a}_{b}_{c}"
    if style == "section":
        prefix = m.section_prefixes[category % len(m.section_prefixes)]
        suffix = m.section_suffixes[int(rng.integers(len(m.section_suffixes)))]
        return f"{prefix}_F_{suffix}"
    return str(int(rng.integers(10**8, 4 * 10**9)))


def build_inventory(marginals: Marginals, rng: np.random.Generator) -> Inventory:
    """Draw the world's domains (category, slots, pages) from the fitted marginals."""
    labels = tuple(e.label for e in marginals.exchanges)
    dom_ex: list[int] = []
    dom_probs: list[float] = []
    for ei, ex in enumerate(marginals.exchanges):
        dom_ex.extend([ei] * len(ex.domain_rank_probs))
        dom_probs.extend((ex.share * ex.domain_rank_probs).tolist())
    n_dom = len(dom_ex)
    categories = rng.integers(0, len(CATEGORIES), size=n_dom)
    sizes: dict[tuple[int, int], int] = {}
    vis: dict[str, int] = {}
    slots: list[tuple[int, float, str, int, int, int]] = []
    for d in range(n_dom):
        ex = marginals.exchanges[dom_ex[d]]
        kind_p = np.array([k.weight for k in ex.slot_kinds])
        n_slots = 1 + min(int(rng.poisson(1.5)), 5)
        kinds = rng.choice(len(ex.slot_kinds), size=n_slots, p=kind_p / kind_p.sum())
        cum = np.cumsum(rng.dirichlet(np.ones(n_slots)))
        cum[-1] = 1.0
        for kind_index, c in zip(kinds.tolist(), cum.tolist(), strict=True):
            k = ex.slot_kinds[kind_index]
            s = sizes.setdefault((k.width, k.height), len(sizes))
            v = vis.setdefault(k.visibility, len(vis))
            sid = _slot_id(rng, ex.slotid_style, int(categories[d]), marginals)
            slots.append((d, c, sid, s, v, k.floor_fen))
    size_list = tuple(sorted(sizes, key=sizes.__getitem__))
    vis_list = tuple(sorted(vis, key=vis.__getitem__))
    page_w = 1.0 / np.arange(1, PAGES_PER_DOMAIN + 1)
    return Inventory(
        exchange_labels=labels,
        domain_names=random_hex(rng, n_dom),
        domain_exchange=np.array(dom_ex, dtype=np.int64),
        domain_category=categories.astype(np.int64),
        domain_probs=np.array(dom_probs) / sum(dom_probs),
        sizes=size_list,
        size_group_of=np.array([size_group(w, h) for w, h in size_list], dtype=np.int64),
        visibilities=vis_list,
        visibility_pos=np.array(
            [POSITIONS.index(VISIBILITY_TO_POS.get(v, 0)) for v in vis_list], dtype=np.int64
        ),
        slot_domain=np.array([s[0] for s in slots], dtype=np.int64),
        slot_cum=np.array([s[0] + s[1] for s in slots], dtype=np.float64),
        slot_ids=np.array([s[2].encode() for s in slots], dtype=np.bytes_),
        slot_size=np.array([s[3] for s in slots], dtype=np.int64),
        slot_visibility=np.array([s[4] for s in slots], dtype=np.int64),
        slot_floor_fen=np.array([s[5] for s in slots], dtype=np.int64),
        page_urls=random_hex(rng, n_dom * PAGES_PER_DOMAIN),
        page_probs=page_w / page_w.sum(),
    )
