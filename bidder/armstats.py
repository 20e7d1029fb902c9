"""Per-arm delivery counters (impressions, clicks, spend) that feed the optimiser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(slots=True)
class ArmCounts:
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    spend_micros: int = 0


class ArmBook:
    """Counts per (campaign, arm), updated by notices and clicks; read by the optimiser."""

    def __init__(self) -> None:
        self._counts: dict[str, dict[str, ArmCounts]] = {}

    def _cell(self, campaign_id: str, arm: str) -> ArmCounts:
        arms = self._counts.setdefault(campaign_id, {})
        cell = arms.get(arm)
        if cell is None:
            cell = arms[arm] = ArmCounts()
        return cell

    def record_impression(self, campaign_id: str, arm: str, spend_micros: int) -> None:
        cell = self._cell(campaign_id, arm)
        cell.impressions += 1
        cell.spend_micros += spend_micros

    def record_click(self, campaign_id: str, arm: str) -> None:
        self._cell(campaign_id, arm).clicks += 1

    def record_conversion(self, campaign_id: str, arm: str) -> None:
        self._cell(campaign_id, arm).conversions += 1

    def snapshot(self) -> Mapping[str, Mapping[str, ArmCounts]]:
        """A copy: campaign id -> arm -> counts."""
        return {
            campaign: {
                arm: ArmCounts(c.impressions, c.clicks, c.conversions, c.spend_micros)
                for arm, c in arms.items()
            }
            for campaign, arms in self._counts.items()
        }
