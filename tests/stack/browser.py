"""Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium: the Airflow trigger
form and the MLflow run page, with a screenshot of each step in the test's output folder."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from dlexplain.tracking.runs import artifact_page
from tests.browser import chromium
from tests.stack.stack import artifact_path, run_id_of

def _shot(driver, out: Path, name: str) -> Path:
    path = out / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    (path.with_suffix(".html")).write_text(driver.page_source)
    return path


def _field(driver, name: str, timeout: float = 30):
    """The trigger form's input of param ``name``."""
    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located(
        (By.XPATH, f"//input[@id='{name}' or @name='{name}' or @id='element_{name}' "
                   f"or @name='element_{name}']")))


#: a date input's segments follow the browser's locale, so its value is set as React expects
#: (the native setter, then an input event) instead of typed
SET_VALUE = """const [element, value] = arguments;
Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(element, value);
element.dispatchEvent(new Event("input", {bubbles: true}));"""


def _set(driver, element, value: str) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    if element.get_attribute("type") == "date":
        driver.execute_script(SET_VALUE, element, value)
        return
    element.click()
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(value)


def _button(driver, text: str, timeout: float = 30):
    return WebDriverWait(driver, timeout).until(ec.element_to_be_clickable(
        (By.XPATH, f"//button[normalize-space(.)='{text}' or .//*[normalize-space(.)='{text}']]")))


def trigger_from_the_form(stack, airflow, params: dict, out: Path) -> str:
    """Sign in to the Airflow UI, fill ``params`` in explain_reviews' trigger form, trigger, and
    see the run succeed on its page; the run id."""
    url = stack.url("AIRFLOW_PORT")
    with chromium() as driver:
        wait = WebDriverWait(driver, 60)
        driver.get(f"{url}/auth/login")
        wait.until(ec.presence_of_element_located((By.NAME, "username")))
        driver.find_element(By.NAME, "username").send_keys(stack.env["AIRFLOW_ADMIN_USER"])
        driver.find_element(By.NAME, "password").send_keys(stack.env["AIRFLOW_ADMIN_PASSWORD"])
        _shot(driver, out, "1-airflow-sign-in")
        driver.find_element(By.NAME, "password").send_keys(Keys.ENTER)
        wait.until(lambda d: "/auth/login" not in d.current_url)
        before = {r["dag_run_id"] for r in
                  airflow.call("GET", "/dags/explain_reviews/dagRuns")["dag_runs"]}
        driver.get(f"{url}/dags/explain_reviews")
        _button(driver, "Trigger", 60).click()
        for name, value in params.items():
            _set(driver, _field(driver, name), str(value))
        _shot(driver, out, "2-airflow-trigger-form")
        buttons = driver.find_elements(By.XPATH, "//*[@role='dialog']//button[normalize-space(.)='Trigger']")
        (buttons[-1] if buttons else _button(driver, "Trigger")).click()
        deadline = time.monotonic() + 60
        while True:
            runs = airflow.call("GET", "/dags/explain_reviews/dagRuns")["dag_runs"]
            new = [r for r in runs if r["dag_run_id"] not in before]
            if new:
                break
            assert time.monotonic() < deadline, "the form triggered no run"
            time.sleep(2)
        [run] = new
        assert {k: run["conf"].get(k) for k in params} == params, run["conf"]
        state = airflow.wait_for_run("explain_reviews", run["dag_run_id"], timeout=1800)
        assert state == "success", airflow.task_states("explain_reviews", run["dag_run_id"])
        driver.get(f"{url}/dags/explain_reviews/runs/{run['dag_run_id']}")
        WebDriverWait(driver, 60).until(
            lambda d: "success" in d.find_element(By.TAG_NAME, "body").text.lower())
        _shot(driver, out, "3-airflow-run-succeeded")
        return run["dag_run_id"]


def bar_plot_in_mlflow_ui(stack, report, size: tuple[int, int], out: Path) -> None:
    """Open the explanation run's first bar plot in the MLflow UI (signed in as the admin) and
    see it drawn: an image of the PNG's ``size`` (width, height), fetched by the UI itself (it
    shows artifacts as ``blob:`` URLs)."""
    user, password = stack.env["MLFLOW_ADMIN_USER"], stack.env["MLFLOW_ADMIN_PASSWORD"]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    path = artifact_path(report.bar_plots[0])
    run_id = run_id_of(report.explanation_run_url)
    page = artifact_page(run_id, path, stack.url("MLFLOW_PORT"))  # the link dlexplain gives
    drawn = ("const img = arguments[0]; return img.complete && "
             "[img.naturalWidth, img.naturalHeight];")
    with chromium() as driver:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                               {"headers": {"Authorization": f"Basic {token}"}})
        driver.get(page)
        try:
            image = WebDriverWait(driver, 90).until(lambda d: next(
                (img for img in d.find_elements(By.TAG_NAME, "img")
                 if (img.get_attribute("src") or "").startswith(("blob:", stack.url("MLFLOW_PORT")))
                 and d.execute_script(drawn, img) == list(size)), None))
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", image)
        finally:  # the page as it is, drawn or not
            _shot(driver, out, "4-mlflow-bar-plot")
        assert path.rsplit("/", 1)[-1].startswith("bar_")
