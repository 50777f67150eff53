"""Reading inputs and writing data outputs.

``sniff_format``, ``ReadOptions``, ``LoadedTable`` and ``neutralize_cell`` import no data stack
(the gateway uses them); the readers and writers load polars on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transformers.io.neutralize import neutralize_cell
from transformers.io.options import LoadedTable, ReadOptions
from transformers.io.sniff import sniff_format

if TYPE_CHECKING:
    from transformers.io.readers import read_document, read_table
    from transformers.io.writers import write_table

__all__ = [
    "LoadedTable",
    "ReadOptions",
    "neutralize_cell",
    "read_document",
    "read_table",
    "sniff_format",
    "write_table",
]

_LAZY = {
    "read_table": "transformers.io.readers",
    "read_document": "transformers.io.readers",
    "write_table": "transformers.io.writers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'transformers.io' has no attribute '{name}'")
    import importlib

    return getattr(importlib.import_module(module), name)
