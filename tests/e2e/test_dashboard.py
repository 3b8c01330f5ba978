"""The dashboard in a real browser: Debian's Chromium, driven through its chromedriver, against
`citriage serve` with two analysed webhooks. Screenshots (desktop and phone) go to the test's
directory, or to $DASHBOARD_SCREENSHOTS when it is set (to look at them)."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.serving import launch_serve, wait_for
from tests.e2e.test_query_client import FAILING, KEY, PASSING, webhook

pytestmark = pytest.mark.e2e
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest.fixture
def browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail(
            "the dashboard tests need Debian's chromium and chromedriver: make browser-tools installs them"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_window_size(1200, 900)
    try:
        yield driver
    finally:
        driver.quit()


def until(driver, css: str, timeout: float = 20):
    """The elements matching `css` once there is one (the page renders after its API calls)."""
    try:
        WebDriverWait(driver, timeout).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))
    except TimeoutException:
        raise AssertionError(
            f"no {css!r} on {driver.current_url}: {driver.find_element(By.TAG_NAME, 'main').text!r}"
        ) from None
    return driver.find_elements(By.CSS_SELECTOR, css)


def shoot(driver, directory: Path, name: str) -> None:
    for label, width in (("desktop", 1200), ("phone", 390)):
        driver.set_window_size(width, 900)
        time.sleep(0.2)
        driver.save_screenshot(str(directory / f"{name}.{label}.png"))
    driver.set_window_size(1200, 900)


def test_the_dashboard_shows_the_runs_jobs_issues_and_status_in_chromium(browser, tmp_path: Path):
    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"generic": KEY}))
    out = tmp_path / "out"
    process, lines = launch_serve(out, keys)
    try:
        url = wait_for(lines, "citriage serve: listening on").split()[4]
        log_server = wait_for(lines, "log server:").split()[2]
        token = (out / "api-token").read_text().strip()
        # Given two analysed webhooks: one failing run (new, known and infra failures), one passing
        webhook(url, log_server, FAILING, 1, "tempest-mixed")
        webhook(url, log_server, PASSING, 2, "tempest-passing")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            answer = requests.get(
                f"{url}/runs", headers={"Authorization": f"Bearer {token}"}, timeout=30
            ).json()
            if len(answer["items"]) == 2:
                break
            time.sleep(1)
        failing = f"generic:ci.example.org/{FAILING}/1"

        # When the dashboard is opened: it asks for the token once
        browser.get(f"{url}/")
        field = until(browser, "form.token input#token")[0]
        shoot(browser, shots, "0-token")
        field.send_keys(token)
        browser.find_element(By.CSS_SELECTOR, "form.token button").click()
        # Then the runs list shows both runs, each with its verdict's colour
        rows = until(browser, "#runs tbody tr[data-run]")
        runs = {row.get_attribute("data-run"): row for row in rows}
        assert set(runs) == {failing, f"generic:ci.example.org/{PASSING}/2"}
        badge = runs[failing].find_element(By.CSS_SELECTOR, ".verdict")
        assert badge.text == "failed new" and "failed_new" in badge.get_attribute("class")
        assert badge.value_of_css_property("background-color") == "rgba(207, 34, 46, 1)"
        shoot(browser, shots, "1-runs")
        # And a filter narrows it
        browser.get(f"{url}/#/runs?verdict=passed")
        until(browser, "#runs tbody tr[data-run]")
        assert [
            r.get_attribute("data-run")
            for r in browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr[data-run]")
        ] == [f"generic:ci.example.org/{PASSING}/2"]

        # The run page shows the report as the mail does: its new failures, with their messages
        browser.get(f"{url}/#/run/{requests.utils.quote(failing, safe='')}")
        failures = until(browser, ".failure.new")
        report = requests.get(
            f"{url}/runs/{requests.utils.quote(failing, safe='')}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        new = [f for f in report["failures"] if f["classification"] == "new"]
        assert len(failures) == len(new) and new[0]["test_id"] in failures[0].text
        shoot(browser, shots, "2-run")

        # The jobs page: each job with its last verdict and a strip of recent runs
        browser.get(f"{url}/#/jobs")
        until(browser, ".strip a")
        page = browser.find_element(By.TAG_NAME, "main").text
        assert FAILING in page and PASSING in page
        shoot(browser, shots, "3-jobs")
        # The job grid: a row per failing test, a cell per run, coloured by how it failed
        browser.get(f"{url}/#/job/{FAILING}?source=generic")
        until(browser, "#grid td.cell")
        grid = {
            row.find_element(By.CSS_SELECTOR, "td.test").text: row.find_element(
                By.CSS_SELECTOR, "td.cell"
            ).get_attribute("class")
            for row in browser.find_elements(By.CSS_SELECTOR, "#grid tbody tr")
        }
        assert grid == {f["test_id"]: f"cell {f['classification']}" for f in report["failures"]}
        shoot(browser, shots, "4-job-grid")

        # A known issue's page: its hits over time, and the runs it explained
        issues = requests.get(
            f"{url}/known-issues", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ).json()
        hit = next((s for s in issues if s["stats"].get("runs_hit")), issues[0])
        browser.get(f"{url}/#/known-issue/{hit['issue']['id']}")
        bars = until(browser, "figure.chart rect.bar")
        assert len(bars) == 30
        assert sum(int(b.get_attribute("data-count")) for b in bars) == min(
            30, hit["stats"].get("runs_hit", 0)
        )
        shoot(browser, shots, "5-known-issue")

        # The status page
        browser.get(f"{url}/#/status")
        until(browser, "main table")
        assert "generic" in browser.find_element(By.TAG_NAME, "main").text
        shoot(browser, shots, "6-status")

        # An outage: three runs of two jobs fail on one mirror; the incidents page shows it on
        # its timeline, with the downtime per service
        from tests.e2e.test_incident_ledger import post

        now = datetime.now(UTC).replace(microsecond=0)
        for job, build, ago in (("tempest-full", 11, 20), ("devstack", 12, 15), ("tempest-full", 13, 10)):
            post(url, log_server, job, build, "mirror-outage", now - timedelta(minutes=ago))
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            found = requests.get(
                f"{url}/incidents", headers={"Authorization": f"Bearer {token}"}, timeout=30
            ).json()
            if found:
                break
            time.sleep(1)
        browser.get(f"{url}/#/incidents")
        bars = until(browser, "svg.timeline rect.bar.open")
        assert [b.get_attribute("data-incident") for b in bars] == [found[0]["id"]]
        assert "mirror.regionone.example.org" in browser.find_element(By.TAG_NAME, "main").text
        shoot(browser, shots, "7-incidents")
        browser.get(f"{url}/#/incident/{found[0]['id']}")
        until(browser, "main dl.facts")
        assert "still open" in browser.find_element(By.TAG_NAME, "main").text
        shoot(browser, shots, "8-incident")

        # A refused token is forgotten, and the form asks again
        browser.execute_script("localStorage.setItem('citriage-token', 'citr_aaaaaaaaaa_' + 'x'.repeat(43))")
        browser.get(f"{url}/#/runs")
        assert "refused" in until(browser, "form.token p.error")[0].text
        assert browser.execute_script("return localStorage.getItem('citriage-token')") is None
    finally:
        process.kill()
        process.wait()
