"""The explanation schema: JSON and Arrow forms round-trip; failed rows carry no values."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dlexplain.explain.row import (
    SCHEMA_VERSION,
    Faithfulness,
    TextExplanation,
    arrow_type,
    field_names,
    from_arrow,
    to_arrow,
    to_pandas,
)

GOOD = TextExplanation(
    tokens=("", "great ", "film", ""),
    values=np.array([[0.0, 0.0], [-0.3, 0.3], [-0.1, 0.1], [0.0, 0.0]]),
    base_values=np.array([0.5, 0.5]),
    probabilities=np.array([0.1, 0.9]),
    output_names=("NEGATIVE", "POSITIVE"),
    label="POSITIVE",
    score=0.9,
    additivity_error=0.0,
    faithfulness=Faithfulness(comprehensiveness=0.4, sufficiency=0.05,
                              random_comprehensiveness=0.1, random_sufficiency=0.3),
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


def test_rows_written_before_faithfulness_read_back_without_it():
    old = to_arrow([GOOD, BAD]).drop_columns(["faithfulness"])
    back = from_arrow(old)
    assert back[0].faithfulness is None and back[0].to_dict()["values"] == GOOD.to_dict()["values"]
    # Spark keeps a null struct as a struct of nulls (dlexplain.model.udf_nulls)
    assert Faithfulness.from_plain(dict.fromkeys(Faithfulness.names())) is None
    assert TextExplanation.from_json(GOOD.to_json()).faithfulness == GOOD.faithfulness


def test_pandas_form_has_plain_lists():
    frame = to_pandas([GOOD, BAD])
    assert list(frame.columns) == field_names()
    assert frame.loc[0, "values"] == [[0.0, 0.0], [-0.3, 0.3], [-0.1, 0.1], [0.0, 0.0]]
    assert frame.loc[1, "error"] == BAD.error


# --- one definition: every form is derived from the field table, and agrees with it ---------

ARROW_BASES = {"string": "string", "double": "double", "bool": "boolean"}


def _depth_and_base(arrow_type) -> tuple[int, str]:
    depth = 0
    while pa.types.is_list(arrow_type):
        arrow_type, depth = arrow_type.value_type, depth + 1
    return depth, str(arrow_type)


def test_every_form_is_derived_from_the_field_table():
    from pyspark.sql.pandas.types import to_arrow_type

    from dlexplain.explain.row import COLUMNS
    from dlexplain.model.signature import JSON_COLUMN, RUN_COLUMN, explainer_signature
    from dlexplain.spark.udf import explanation_struct

    names = [f.name for f in COLUMNS]
    # the JSON form leads: spark_udf(result_type=StringType()) returns the leftmost column
    expected = [JSON_COLUMN[0], *names, RUN_COLUMN[0]]
    assert list(GOOD.to_dict()) == names == field_names()
    assert list(json.loads(GOOD.to_json())) == ["schema_version", *names]
    assert [f.name for f in arrow_type()] == names
    outputs = explainer_signature("text").outputs.to_dict()
    assert [c["name"] for c in outputs] == expected
    spark = explanation_struct()
    assert spark.fieldNames() == expected

    for f, mlflow_column, spark_field in zip(COLUMNS, outputs[1:], spark.fields[1:]):
        arrow = arrow_type().field(f.name).type
        assert to_arrow_type(spark_field.dataType) == arrow, f.name
        if pa.types.is_struct(arrow):  # an MLflow Object of optional doubles
            assert mlflow_column["type"] == "object", f.name
            assert sorted((p, c["type"], c["required"]) for p, c in
                          mlflow_column["properties"].items()) == sorted(
                (m.name, "double", False) for m in arrow), f.name
            assert mlflow_column["required"] == f.metadata["required"] is False
            continue
        depth, base = _depth_and_base(arrow)
        column = mlflow_column
        for _ in range(depth):  # MLflow nests arrays as {"type": "array", "items": …}
            assert column["type"] == "array", f.name
            column = column["items"]
        assert column["type"] == ARROW_BASES[base.replace("float64", "double")], f.name
        assert mlflow_column["required"] == f.metadata["required"], f.name
        nulls = {row.to_dict()[f.name] is None for row in (GOOD, BAD)}
        assert nulls == ({False} if f.metadata["required"] else {False, True}), \
            f"{f.name}: required means never null, optional means null in some row"


def _definitions_outside_the_row(tree, names: set[str]) -> list[int]:
    """Lines of string literals (in a dict, list, tuple, set or call) or class bodies that spell
    out three or more explanation fields. Keyword arguments (``TextExplanation(label=…)``) are
    uses of the fields, not definitions."""
    import ast

    hits = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Dict, ast.List, ast.Tuple, ast.Set, ast.Call)):
            parts = ([*node.keys, *node.values] if isinstance(node, ast.Dict)
                     else node.args if isinstance(node, ast.Call) else node.elts)
            spelled = {p.value for p in parts if isinstance(p, ast.Constant)} & names
        elif isinstance(node, ast.ClassDef):
            spelled = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign)
                       and isinstance(s.target, ast.Name)} & names
        else:
            continue
        if len(spelled) >= 3:
            hits.append(node.lineno)
    return hits


def test_each_field_name_is_defined_once():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    names = set(field_names())
    row_module = root / "include" / "dlexplain" / "explain" / "row.py"
    found = {}
    for folder in ("include", "dags", "plugins"):
        for path in (root / folder).rglob("*.py"):
            lines = _definitions_outside_the_row(ast.parse(path.read_text()), names)
            if lines:
                found[str(path.relative_to(root))] = lines
    assert list(found) == [str(row_module.relative_to(root))], found
    # the check itself catches a second definition, like 0.1's MLflow output-type table
    old = ('types = {"label": ("string", False), "score": ("double", False), '
           '"tokens": (strings, True)}')
    assert _definitions_outside_the_row(ast.parse(old), names) == [1]
