"""Input formats as people store them: Spark's part files, compressed files, mixed folders."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from dlexplain.base.tables import detect_format, read_table
from dlexplain.errors import DataError

FRAME = pd.DataFrame({"review_id": ["a", "b", "c"],
                      "body": ['fine, "quoted"\nover two lines', None, ""]})


def _spark_folder(folder, suffix: str, write) -> None:
    folder.mkdir()
    write(FRAME.iloc[:2], folder / f"part-00000-x.c000.{suffix}")
    with gzip.open(folder / f"part-00001-x.c000.{suffix}.gz", "wt", encoding="utf-8") as out:
        write(FRAME.iloc[2:], out)
    (folder / "_SUCCESS").touch()
    (folder / f".part-00000-x.c000.{suffix}.crc").write_bytes(b"\x00crc")


@pytest.mark.parametrize("suffix,fmt,write", [
    ("csv", "csv", lambda f, out: f.to_csv(out, index=False)),
    ("json", "json", lambda f, out: f.to_json(out, orient="records", lines=True)),
])
def test_a_folder_of_spark_part_files_plain_and_gzip(tmp_path, suffix, fmt, write):
    folder = tmp_path / "ds=2026-01-01"
    _spark_folder(folder, suffix, write)
    assert detect_format(str(folder)) == fmt
    table = read_table(folder)
    assert sorted(table["review_id"]) == ["a", "b", "c"]
    assert 'fine, "quoted"\nover two lines' in table["body"].tolist()


def test_a_compressed_file_and_a_format_given_where_the_suffix_says_nothing(tmp_path):
    path = tmp_path / "reviews.csv.gz"
    FRAME.to_csv(path, index=False, compression="gzip")
    assert detect_format(str(path)) == "csv" and len(read_table(path)) == 3
    bare = tmp_path / "reviews.export"
    FRAME.to_json(bare, orient="records", lines=True)
    with pytest.raises(DataError, match="set input_format"):
        detect_format(str(bare))
    assert len(read_table(bare, "json")) == 3


def test_a_mixed_folder_and_a_wrong_format_name_the_files_seen(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    FRAME.to_csv(folder / "part-0.csv", index=False)
    FRAME.to_parquet(folder / "part-1.parquet")
    with pytest.raises(DataError, match="part-0.csv, part-1.parquet"):
        detect_format(str(folder))
    (folder / "part-1.parquet").unlink()
    with pytest.raises(DataError, match="as parquet: .*files seen: part-0.csv"):
        read_table(folder, "parquet")


def test_a_suffix_of_no_known_format_is_refused_and_bare_files_are_parquet(tmp_path):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "part-0.csv.lz4").write_bytes(b"\x04\x22\x4d\x18")
    with pytest.raises(DataError, match="no known format .*part-0.csv.lz4"):
        detect_format(str(odd))
    hive = tmp_path / "hive"
    hive.mkdir()
    FRAME.to_parquet(hive / "000000_0")
    assert detect_format(str(hive)) == "parquet" and len(read_table(hive)) == 3
