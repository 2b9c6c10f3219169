"""We store and serve no pickles: no pickle use anywhere in include/, dags/, plugins/."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = re.compile(r"import (cloud)?pickle|(cloud)?pickle\.(dumps?|loads?)\(|allow_pickle\s*=\s*True")


def test_no_pickle_in_code():
    hits = []
    for folder in ("include", "dags", "plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if FORBIDDEN.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, hits


def test_the_guard_itself_catches_pickle():
    for line in ("import pickle", "pickle.loads(x)", "np.load(f, allow_pickle=True)",
                 "import cloudpickle"):
        assert FORBIDDEN.search(line), line
