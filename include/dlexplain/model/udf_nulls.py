"""Keep null strings null through ``mlflow.pyfunc.spark_udf``'s struct conversion.

With a struct result type (the default for our explainer: its output signature), MLflow 3.17
converts each string field with ``Series.astype(np.str_)`` unless every value is None, so a null
``label`` or ``error`` reaches Spark as the string ``"None"``. Inside a Spark task, the explainer
returns its nullable string columns as :class:`NullKeepingStrings`, a pandas string array whose
``astype(str)`` leaves missing values None; everywhere else they stay plain object columns.

MLflow's conversion has no null struct either (a None nested struct fails the whole task), so in
a Spark task a missing struct (``faithfulness`` of a row that has none) is returned as a struct
of nulls (:func:`fill_null_structs`); ``Faithfulness.from_plain`` reads that back as None.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from pandas.arrays import StringArray


class NullKeepingStrings(StringArray):
    """A pandas string array whose conversion to ``str`` keeps missing values as None."""

    def astype(self, dtype, copy: bool = True):
        try:
            to_text = np.dtype(dtype).kind == "U"
        except TypeError:  # a pandas extension dtype
            to_text = False
        if to_text:
            return np.array(
                [None if value is pd.NA else str(value) for value in self], dtype=object
            )
        return super().astype(dtype, copy=copy)


def in_spark_task() -> bool:
    """True inside a running Spark task (a Python worker of a UDF)."""
    if "pyspark" not in sys.modules:
        return False
    from pyspark import TaskContext

    return TaskContext.get() is not None


def keep_nulls(frame: pd.DataFrame, columns) -> None:
    """Turn ``columns`` of ``frame`` (object columns of strings and None) into
    :class:`NullKeepingStrings`, in place."""
    for name in columns:
        values = np.array([pd.NA if v is None else str(v) for v in frame[name]], dtype=object)
        frame[name] = pd.Series(NullKeepingStrings(values), index=frame.index, name=name)


def fill_null_structs(frame: pd.DataFrame, structs: dict[str, tuple[str, ...]]) -> None:
    """Replace None in each struct column of ``structs`` (column → member names) by a dict of
    None members, in place."""
    for name, members in structs.items():
        empty = dict.fromkeys(members)
        frame[name] = [dict(empty) if value is None else value for value in frame[name]]
