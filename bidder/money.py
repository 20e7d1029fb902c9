"""Money units: integer micros inside the engine, float CPM only at the OpenRTB edge.

A price in OpenRTB is a CPM (currency units per 1000 impressions). Inside the engine
every amount is the cost of *one* impression in micros (1e-6 currency units), so a
CPM of 1.00 is 1000 micros per impression, and budgets (currency units in the config)
are ``units * 1_000_000`` micros.
"""

from __future__ import annotations

import math

MICROS_PER_UNIT = 1_000_000
IMPRESSIONS_PER_MILLE = 1000


def cpm_to_micros(cpm: float) -> int:
    """Price of one impression in micros for a CPM; rounds half up, never negative."""
    if not math.isfinite(cpm) or cpm <= 0:
        return 0
    return math.floor(cpm * MICROS_PER_UNIT / IMPRESSIONS_PER_MILLE + 0.5)


def micros_to_cpm(micros: int) -> float:
    """CPM for a per-impression price in micros (the OpenRTB edge)."""
    return micros * IMPRESSIONS_PER_MILLE / MICROS_PER_UNIT


def units_to_micros(units: float) -> int:
    """Currency units (as written in config.yaml) to integer micros."""
    return round(units * MICROS_PER_UNIT)


def micros_to_units(micros: int) -> float:
    return micros / MICROS_PER_UNIT
