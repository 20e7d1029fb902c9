"""The ``optimizer:`` section (global defaults and per-campaign overrides) -> ``OptimizerSettings``.

Every key of a campaign's section overrides the global one; absent keys inherit it. Problems
are recorded into the section's list, like every other config read, e.g.
``campaigns[1].optimizer.floor: must be in [0, 1), got 1.5``.
"""

from __future__ import annotations

from bidder.config.model import (
    AbVariant,
    ArmDimension,
    Experiment,
    MediaShare,
    OptimizerObjective,
    OptimizerPolicy,
    OptimizerSettings,
)
from bidder.config.validate import Section, describe, read_duration_s, suggest
from bidder.errors import Problem
from bidder.money import units_to_micros

OPTIMIZER_KEYS = (
    "enabled", "policy", "objective", "target_cpc", "target_cpa", "grouping", "media", "floor",
    "max_move", "step_interval", "creatives", "seed", "experiment",
)  # fmt: skip
MEDIA_KEYS = ("min", "max")
EXPERIMENT_KEYS = ("salt", "control", "variants")
VARIANT_KEYS = ("name", "weight", "bid_multiplier", "strategy_value")
_DIMENSIONS = tuple(d.value for d in ArmDimension)


def build_optimizer(s: Section | None, base: OptimizerSettings) -> OptimizerSettings:
    """Settings from ``s`` with ``base`` supplying every key the section leaves out."""
    if s is None:
        return base
    settings = OptimizerSettings(
        enabled=s.flag("enabled", base.enabled),
        policy=s.choice("policy", OptimizerPolicy, base.policy),
        objective=s.choice("objective", OptimizerObjective, base.objective),
        target_cpc_micros=_money(s, "target_cpc", base.target_cpc_micros),
        target_cpa_micros=_money(s, "target_cpa", base.target_cpa_micros),
        grouping=_grouping(s, base.grouping),
        media_shares=_media(s, base.media_shares),
        floor=_unit_interval(s, "floor", base.floor, closed_top=False),
        max_move=_max_move(s, base.max_move),
        step_interval_s=_interval(s, base.step_interval_s),
        creatives=s.flag("creatives", base.creatives),
        seed=s.integer("seed", base.seed, lo=0),
        experiment=_experiment(s.section("experiment", EXPERIMENT_KEYS), base.experiment),
    )
    objective = settings.objective
    if objective is OptimizerObjective.CLICKS_UNDER_TARGET_CPC and not settings.target_cpc_micros:
        s.add("target_cpc", "is required when objective is clicks_under_target_cpc")
    return settings


def _money(s: Section, key: str, default: int | None) -> int | None:
    if not s.has(key):
        return default
    amount = s.number(key, 0.0, gt=0)
    return units_to_micros(amount) if amount > 0 else default


def _unit_interval(s: Section, key: str, default: float, *, closed_top: bool) -> float:
    if not s.has(key):
        return default
    value = s.data[key]
    if not isinstance(value, int | float) or isinstance(value, bool):
        s.add(key, f"must be a number, got {describe(value)}")
        return default
    ok = 0 <= value <= 1 if closed_top else 0 <= value < 1
    if not ok:
        s.add(key, f"must be in [0, 1{']' if closed_top else ')'}, got {value!r}")
        return default
    return float(value)


def _max_move(s: Section, default: float) -> float:
    if not s.has("max_move"):
        return default
    value = s.data["max_move"]
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1:
        s.add("max_move", f"must be in (0, 1], got {describe(value)}")
        return default
    return float(value)


def _interval(s: Section, default: int) -> int:
    if not s.has("step_interval"):
        return default
    return read_duration_s(s.data["step_interval"], s.at("step_interval"), s.problems) or default


def _grouping(s: Section, default: tuple[ArmDimension, ...]) -> tuple[ArmDimension, ...]:
    if not s.has("grouping"):
        return default
    dims: list[ArmDimension] = []
    for path, name in s.each_text("grouping", lower=True):
        if name not in _DIMENSIONS:
            hint = suggest(name, _DIMENSIONS) or "; allowed: " + ", ".join(_DIMENSIONS)
            s.problems.append(Problem(path, f"unknown arm part {describe(name)}{hint}"))
        elif ArmDimension(name) not in dims:
            dims.append(ArmDimension(name))
    if not dims:
        s.add("grouping", f"must list at least one of {', '.join(_DIMENSIONS)}")
        return default
    return tuple(d for d in ArmDimension if d in dims)  # canonical key order


def _media(s: Section, default: tuple[MediaShare, ...]) -> tuple[MediaShare, ...]:
    if not s.has("media"):
        return default
    value = s.data["media"]
    if not isinstance(value, dict):
        s.add(
            "media", f"must be a section like adx1: {{min: 0.1, max: 0.5}}, got {describe(value)}"
        )
        return default
    out: list[MediaShare] = []
    media = Section(value, s.at("media"), s.problems)
    for name in value:
        m = media.section(str(name), MEDIA_KEYS)
        if m is None:
            continue
        lo = _unit_interval(m, "min", 0.0, closed_top=True)
        hi = _unit_interval(m, "max", 1.0, closed_top=True)
        if lo > hi:
            m.add("min", f"must be <= max ({hi:g}), got {lo:g}")
        out.append(MediaShare(str(name), lo, hi))
    if sum(m.min_share for m in out) > 1:
        s.add("media", "the min shares add up to more than 1")
    return tuple(out)


def _experiment(s: Section | None, default: Experiment | None) -> Experiment | None:
    if s is None:
        return default
    salt = s.text("salt", "", required=True) or ""
    variants: list[AbVariant] = []
    names: set[str] = set()
    for path, item in s.items("variants"):
        v = Section.of(item, path, VARIANT_KEYS, s.problems)
        if v is None:
            continue
        name = v.text("name", "", required=True) or ""
        if name in names:
            v.add("name", f'duplicate variant name "{name}"')
        names.add(name)
        amount = v.number("strategy_value", 0.0, gt=0)
        variants.append(
            AbVariant(
                name=name,
                weight=v.number("weight", 1.0, gt=0),
                bid_multiplier=v.number("bid_multiplier", 1.0, gt=0),
                strategy_value_micros=units_to_micros(amount) if amount > 0 else None,
            )
        )
    if s.has("variants") and len(variants) < 2:
        s.add("variants", f"must list at least 2 variants, got {len(variants)}")
    elif not s.has("variants"):
        s.require("variants")
    control = s.text("control", variants[0].name if variants else "") or ""
    if variants and control not in names:
        s.add(
            "control",
            f"must name one of the variants ({', '.join(sorted(names))}), got {describe(control)}",
        )
    return Experiment(salt=salt, control=control, variants=tuple(variants))
