"""The task report: build it from the agents' results, then write its output files."""

from __future__ import annotations

from transformers.report.builder import build_report
from transformers.report.excel import neutralize_cell
from transformers.report.next_tool import RULES, recommend_next_tool
from transformers.report.writers import write_report_outputs

__all__ = [
    "RULES",
    "build_report",
    "neutralize_cell",
    "recommend_next_tool",
    "write_report_outputs",
]
