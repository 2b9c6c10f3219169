"""How every benchmark prints its figures: one aligned ``name  value`` line each, and
optionally the same figures as JSON."""

from __future__ import annotations

import json
from pathlib import Path


def print_figures(figures: dict, json_path: Path | None = None, digits: int = 4) -> None:
    """Print ``figures`` (floats to ``digits`` significant digits); write them to
    ``json_path`` too when given."""
    width = max(map(len, figures))
    for key, value in figures.items():
        shown = f"{value:.{digits}g}" if isinstance(value, float) else f"{value}"
        print(f"{key:<{width}}  {shown}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2))
