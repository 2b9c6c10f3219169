"""The documentation site: it builds with every link and anchor checked (``mkdocs build --strict``),
its params page shows every param of ``explain_reviews`` in a browser, and README.md stays a
front door into it."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.browser import chromium

REPO = Path(__file__).resolve().parents[1]
MKDOCS = Path(sys.executable).parent / "mkdocs"  # the venv's, as conftest puts it on PATH

def _hooks():
    """docs/hooks.py, the module that generates the site's tables from the code."""
    spec = importlib.util.spec_from_file_location(
        "dlexplain_docs_hooks", REPO / "docs" / "hooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@contextlib.contextmanager
def _serve(folder: Path):
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_docs_site_and_readme(tmp_path):
    """README.md is a front door (at most 200 lines, its links into docs/ exist); the site builds
    with ``--strict``; a browser finds every param of explain_reviews on the params page."""
    from selenium.webdriver.common.by import By

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    links = re.findall(r"\]\((docs/[^)#\s]+)", readme)
    assert links, "README.md links into docs/"
    assert [link for link in links if not (REPO / link).is_file()] == []

    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [str(MKDOCS), "build", "--strict", "-d", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert build.returncode == 0, build.stdout + build.stderr

    names = _hooks().param_names("explain_reviews")  # from the DAG itself
    assert "source_model" in names and "granularity" in names, names

    with _serve(site) as url, chromium() as driver:
        driver.get(f"{url}/dags/")
        body = driver.find_element(By.TAG_NAME, "body").text
        missing = [name for name in names if name not in body]
        assert not missing, f"params of explain_reviews not on the page: {missing}"
        table = driver.find_element(By.ID, "params-of-explain_reviews").find_element(
            By.XPATH, "following::table[1]"
        )
        shown = [cell.text for cell in table.find_elements(By.XPATH, "./tbody/tr/td[1]")]
        assert shown == names
