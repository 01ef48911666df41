"""HTML pieces the report's sections share: escaping, number cells, table rows."""

from __future__ import annotations

import html
import math
from typing import Any


def escape(value: Any) -> str:
    """``value`` as text safe in HTML content and attributes."""
    return html.escape(str(value), quote=True)


def number_cell(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` decimals; a dash where it is undefined (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "&ndash;"
    return f"{value:.{digits}f}"


def table_row(cells: list[str], *, header: bool = False, text_cols: int = 1) -> str:
    """A ``<tr>`` of ``cells`` (already HTML); the first ``text_cols`` align left as text."""
    tag = "th" if header else "td"
    out = [
        f'<{tag} class="text">{c}</{tag}>' if i < text_cols else f"<{tag}>{c}</{tag}>"
        for i, c in enumerate(cells)
    ]
    return "<tr>" + "".join(out) + "</tr>"
