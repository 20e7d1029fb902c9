"""Campaign report from logs: ``compute_report`` (numbers) and ``render_report`` (HTML, PDF)."""

from bidder.report.compute import ReportWindow, compute_report
from bidder.report.render import render_report

__all__ = ["ReportWindow", "compute_report", "render_report"]
