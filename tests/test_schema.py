"""The explanation schema: JSON and Arrow forms round-trip; failed rows carry no values."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlexplain.schema import (SCHEMA_VERSION, TextExplanation, arrow_type, field_names,
                              from_arrow, to_arrow, to_pandas)

GOOD = TextExplanation(
    tokens=("", "great ", "film", ""),
    values=np.array([[0.0, 0.0], [-0.3, 0.3], [-0.1, 0.1], [0.0, 0.0]]),
    base_values=np.array([0.5, 0.5]),
    probabilities=np.array([0.1, 0.9]),
    output_names=("NEGATIVE", "POSITIVE"),
    label="POSITIVE",
    score=0.9,
    additivity_error=0.0,
)
BAD = TextExplanation.failed("text is missing (None/NaN)", ("NEGATIVE", "POSITIVE"))


def assert_same(a: TextExplanation, b: TextExplanation) -> None:
    assert a.to_dict() == b.to_dict()


@pytest.mark.parametrize("item", [GOOD, BAD])
def test_json_round_trip(item):
    text = item.to_json()
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION
    assert set(data) == {"schema_version", *field_names()}
    assert_same(TextExplanation.from_json(text), item)


def test_json_rejects_unknown_version():
    data = json.loads(GOOD.to_json())
    data["schema_version"] = 99
    with pytest.raises(ValueError, match="99"):
        TextExplanation.from_json(json.dumps(data))


def test_failed_row_has_no_values():
    data = BAD.to_dict()
    assert data["error"] and data["tokens"] == [] and data["values"] == []
    assert data["label"] is None and data["score"] is None and data["additivity_error"] is None
    assert not BAD.ok and GOOD.ok


def test_arrow_parquet_round_trip(tmp_path):
    table = to_arrow([GOOD, BAD, GOOD])
    assert table.schema == pa.schema(list(arrow_type()))
    pq.write_table(table, tmp_path / "e.parquet")
    back = from_arrow(pq.read_table(tmp_path / "e.parquet"))
    for a, b in zip(back, [GOOD, BAD, GOOD]):
        assert_same(a, b)


def test_pandas_form_has_plain_lists():
    frame = to_pandas([GOOD, BAD])
    assert list(frame.columns) == field_names()
    assert frame.loc[0, "values"] == [[0.0, 0.0], [-0.3, 0.3], [-0.1, 0.1], [0.0, 0.0]]
    assert frame.loc[1, "error"] == BAD.error
