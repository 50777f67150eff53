"""Spreadsheet formula-injection neutralisation: one function for every spreadsheet writer."""

from __future__ import annotations

from typing import Any

#: A cell whose text starts with one of these is run as a formula by Excel/LibreOffice/Sheets.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralize_cell(value: Any) -> Any:
    """Return ``value`` safe to put in a spreadsheet cell.

    Text beginning with ``=`` ``+`` ``-`` ``@``, tab or carriage return gets a leading single
    quote, so the spreadsheet shows it as text instead of evaluating it (OWASP CSV injection).
    Anything that is not a string (numbers, dates, booleans, None) is returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
