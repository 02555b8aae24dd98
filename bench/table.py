"""The benchmarks' plain-text tables: a header row, a rule, then the rows, each column as wide as its widest cell."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * width for width in widths))


def print_targets(figures: dict[str, Any], targets: Sequence[tuple[str, str, str, bool]]) -> None:
    """The targets' table (name, measured, target, met), then every figure as one JSON line, with which targets
    are met."""
    print_table(
        [("target", "measured", "target", "met"), *[(n, m, t, "yes" if ok else "NO") for n, m, t, ok in targets]]
    )
    figures["targets_met"] = all(ok for *_, ok in targets)
    figures["targets"] = {name: ok for name, _, _, ok in targets}
    print("\n" + json.dumps(figures, default=lambda x: round(x, 3) if isinstance(x, float) else str(x)))
