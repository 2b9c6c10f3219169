"""How every benchmark prints its figures: one aligned ``name  value`` line each, the machine's
(CPU model, its bfloat16/AVX flags, torch threads) first, and optionally the same as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from dlexplain.explain.numerics import machine_figures


def print_figures(figures: dict, json_path: Path | None = None, digits: int = 4) -> None:
    """Print the machine's figures, then ``figures`` (floats to ``digits`` significant digits);
    write them all to ``json_path`` too when given."""
    figures = {**machine_figures(), **figures}
    width = max(map(len, figures))
    for key, value in figures.items():
        shown = f"{value:.{digits}g}" if isinstance(value, float) else f"{value}"
        print(f"{key:<{width}}  {shown}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2))
