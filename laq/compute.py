"""Which devices made a table's numbers (torch-free: read by tables, findings and the report).

Quantized codes depend on the device (CPU vs GPU, TF32 or not), so a table row names the device
kinds and precisions that made and evaluated its checkpoints, and pooled results say when they mix them.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

UNRECORDED = "unrecorded"


def device_column(found: Mapping[str, Mapping[str, Any]]) -> str:
    """One row's devices, from its variants' evaluation metrics (`laq.stages.evaluate_checkpoints`):
    "made <kinds>; evaluated <kinds>", each kind "<cpu | GPU name> <precision>"."""
    made = sorted({str(m["made_on"]) for m in found.values() if "made_on" in m}) or [UNRECORDED]
    evaluated = sorted({str(m["evaluated_on"]) for m in found.values() if "evaluated_on" in m}) or [UNRECORDED]
    return f"made {' + '.join(made)}; evaluated {' + '.join(evaluated)}"


def device_statement(table: pd.DataFrame) -> str:
    """A sentence for findings and the report: which devices made the numbers, and a warning when the
    rows (draws) come from more than one device set, since their codes are not comparable byte for byte."""
    if "device" not in table.columns or table.empty:
        return "The tables do not record which device made the models (made before device records existed)."
    counts = table["device"].astype(str).value_counts().sort_index()
    if len(counts) == 1:
        return f"Every row was computed on one device set ({counts.index[0]})."
    parts = ", ".join(f"{k}: {v} rows" for k, v in counts.items())
    return (
        f"WARNING: these results pool draws computed on {len(counts)} different device sets ({parts}); "
        "quantized codes differ between devices, so re-run on one device kind before comparing them closely."
    )
