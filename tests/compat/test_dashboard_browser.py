"""The dashboard in a real browser: Debian's Chromium, headless, driven by Selenium
through chromedriver, against an orlopd on a test root reached the way a person reaches
it, through ``orlop dashboard``'s loopback port and its per-launch token.

One browser for the module, the steps in order (list, create, upload, browse, preview,
download, export, import, remove and the in-use refusal, clone, a snapshot restored,
prune's dry run); screenshots of each step are kept in a temporary directory whose path is printed
(``ORLOP_TEST_ARTIFACTS`` names another one).
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .dashboard_util import Stage, staged_server, start_dashboard, stop_dashboard, tar_of

pytestmark = pytest.mark.root

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/setup.sh)",
                allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@dataclass
class Browser:
    driver: Any
    base: str  # http://127.0.0.1:PORT
    stage: Stage
    shots: Path
    downloads: Path
    n: int = 0

    def shot(self, name: str) -> None:
        self.n += 1
        self.driver.save_screenshot(str(self.shots / f"{self.n:02d}-{name}.png"))

    def go(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def wait(self, css: str, timeout: float = 20) -> Any:
        return WebDriverWait(self.driver, timeout).until(
            ec.presence_of_element_located((By.CSS_SELECTOR, css)))

    def notice(self, text: str, timeout: float = 30) -> None:
        """Wait for the notice the page shows after an action (the previous page's
        notice may still be there while an upload runs)."""
        # While the form's POST navigates, the old document's node can vanish under the
        # check (chromedriver: "Node with given id does not belong to the document"):
        # that is "not yet", like a stale element.
        from selenium.common.exceptions import WebDriverException

        WebDriverWait(self.driver, timeout, ignored_exceptions=(WebDriverException,)).until(
            ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#notice"), text))

    def wait_download(self, name: str, timeout: float = 20) -> Path:
        path = self.downloads / name
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and not any(p.suffix == ".crdownload"
                                         for p in self.downloads.iterdir()):
                return path
            time.sleep(0.05)
        raise AssertionError(f"no download {name}: {os.listdir(self.downloads)}")

    def open_box(self, box_id: str) -> None:
        self.find(f"#{box_id} summary").click()

    def submit(self, button_css: str, *, confirm: bool = False) -> None:
        self.find(button_css).click()
        if confirm:
            WebDriverWait(self.driver, 10).until(ec.alert_is_present())
            self.driver.switch_to.alert.accept()


def _artifacts() -> Path:
    where = os.environ.get("ORLOP_TEST_ARTIFACTS")
    if where:
        path = Path(where) / "dashboard"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return Path(tempfile.mkdtemp(prefix="orlop-dashboard-screenshots-", dir="/tmp"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from selenium.webdriver.chrome.service import Service

    shots = _artifacts()
    downloads = Path(tempfile.mkdtemp(prefix="orlop-dashboard-downloads-", dir="/tmp"))
    for stage in staged_server():
        proc, url = start_dashboard(stage.server)
        opts = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                    "--disable-gpu", "--window-size=1280,900", "--no-first-run",
                    "--disable-extensions", "--disable-background-networking"):
            opts.add_argument(arg)
        opts.binary_location = CHROMIUM or ""
        opts.add_experimental_option("prefs", {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False})
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER or ""))
        try:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                                   {"behavior": "allow", "downloadPath": str(downloads)})
            driver.get(url)  # the token URL: a cookie, then the page without the token
            base = url.split("/dashboard/")[0]
            yield Browser(driver, base, stage, shots, downloads)
        finally:
            driver.quit()
            stop_dashboard(proc)
            shutil.rmtree(downloads, ignore_errors=True)
            print(f"\ndashboard screenshots: {shots}", file=sys.__stderr__)


def test_list_and_token_landing(browser: Browser) -> None:
    d = browser.driver
    assert d.current_url == browser.base + "/dashboard/"  # the token left the address
    row = browser.wait('tr[data-name="used"]')
    assert "user1" in row.text and "/srv/data" in row.text
    assert "Volumes" in d.title
    browser.shot("volumes")
    # The script loaded under the CSP (and nothing was refused by it).
    assert d.execute_script("return typeof busy") == "function"
    logs = d.get_log("browser")
    assert not [e for e in logs if "Content Security Policy" in e["message"]], logs


def test_create_upload_browse_preview_download(browser: Browser, tmp_path: Path) -> None:
    browser.stage.client.request(
        "PUT", "/libpod/volumes/used/archive?path=/",
        tar_of([("docs", "/"), ("docs/readme.md", b"# Hello from a volume\n<b>not bold</b>\n"),
                ("outside", "->/etc/passwd")]), {"Content-Type": "application/x-tar"})
    browser.go("/dashboard/")
    browser.open_box("create-box")
    browser.find("#create-name").send_keys("browser-vol")
    browser.find('textarea[name="labels"]').send_keys("made=by-browser")
    browser.submit("#create-submit")
    browser.notice("browser-vol created")
    assert "made=by-browser" in browser.find(".facts").text
    browser.shot("created")

    hello = tmp_path / "hello.txt"
    hello.write_text("hello, dashboard\n")
    odd = tmp_path / "<b>odd 'name'.txt"
    odd.write_text("odd\n")
    browser.find("#upload-file").send_keys(f"{hello}\n{odd}")
    browser.submit("#upload-submit")
    browser.notice("Uploaded 2 file(s)")
    names = [e.get_attribute("data-name") for e in
             browser.driver.find_elements(By.CSS_SELECTOR, "#entries tr[data-name]")]
    assert names == ["<b>odd 'name'.txt", "hello.txt"]
    # The name is text: no <b> element made of it.
    assert not [b for b in browser.driver.find_elements(By.TAG_NAME, "b") if "odd" in b.text]
    browser.shot("uploaded")

    # Browse the in-use volume: a folder, a file's preview, a symlink shown not followed.
    browser.go("/dashboard/volumes/used")
    row = browser.wait('#entries tr[data-name="outside"]')
    assert "-> /etc/passwd" in row.text and not row.find_elements(By.TAG_NAME, "a")[:-1]
    browser.find('#entries tr[data-name="docs"] a.dir').click()
    browser.wait('#entries tr[data-name="readme.md"] a.file').click()
    pre = browser.wait("#preview")
    assert "<b>not bold</b>" in pre.text
    browser.shot("preview")

    browser.go("/dashboard/volumes/browser-vol")
    browser.wait('#entries tr[data-name="hello.txt"] a[href*="download"]').click()
    got = browser.wait_download("hello.txt.tar")
    with tarfile.open(got) as t:
        f = t.extractfile("hello.txt")
        assert f is not None and f.read() == b"hello, dashboard\n"


def test_export_import_round_trip(browser: Browser) -> None:
    browser.go("/dashboard/volumes/browser-vol")
    browser.wait("#export").click()
    archive = browser.wait_download("browser-vol.tar")
    browser.go("/dashboard/")
    browser.open_box("import-box")
    browser.find("#import-name").send_keys("browser-restored")
    browser.find("#import-file").send_keys(str(archive))
    browser.submit("#import-submit")
    browser.notice("Imported into volume browser-restored")
    browser.wait('#entries tr[data-name="hello.txt"]')
    assert "made=by-browser" in browser.find(".facts").text  # the archive's labels
    browser.shot("imported")
    browser.find('#entries tr[data-name="hello.txt"] a.file').click()
    assert browser.wait("#preview").text == "hello, dashboard"


def test_clone_remove_and_in_use_refusal(browser: Browser) -> None:
    browser.go("/dashboard/volumes/browser-restored")
    browser.wait("#clone-name").send_keys("browser-clone")
    browser.submit("#clone-submit")
    browser.notice("cloned as browser-clone")
    browser.wait('#entries tr[data-name="hello.txt"]')

    browser.go("/dashboard/volumes/used")
    browser.submit("#remove-submit", confirm=True)
    err = browser.wait("#in-use-by")
    assert "user1" in err.text and "/srv/data" in err.text
    browser.shot("in-use-refused")
    assert browser.stage.client.api("GET", "/volumes/used").status == 200

    for name in ("browser-restored", "browser-clone"):
        browser.go(f"/dashboard/volumes/{name}")
        browser.submit("#remove-submit", confirm=True)
        browser.notice(f"Volume {name} removed")
        assert not browser.driver.find_elements(By.CSS_SELECTOR, f'tr[data-name="{name}"]')
    browser.shot("removed")


def test_snapshot_change_restore(browser: Browser, tmp_path: Path) -> None:
    c = browser.stage.client
    assert c.api("POST", "/volumes/create", {"Name": "browser-snap"}).status == 201
    c.request("PUT", "/libpod/volumes/browser-snap/archive?path=/",
              tar_of([("note.txt", b"the old content\n")]),
              {"Content-Type": "application/x-tar"})
    browser.go("/dashboard/volumes/browser-snap")
    assert "no snapshot yet" in browser.wait("#snapshots").text
    browser.find("#snapshot-name").send_keys("before")
    browser.submit("#snapshot-submit")
    browser.notice("Snapshot before of browser-snap created")
    row = browser.wait('#snapshots tr[data-name="before"]')
    assert "UTC" in row.text and ("copy" in row.text or "reflink" in row.text)
    browser.shot("snapshot-created")

    # Change the file (an upload of the same name replaces it).
    note = tmp_path / "note.txt"
    note.write_text("the new content\n")
    browser.find("#upload-file").send_keys(str(note))
    browser.submit("#upload-submit")
    browser.notice("Uploaded 1 file(s)")
    browser.find('#entries tr[data-name="note.txt"] a.file').click()
    assert browser.wait("#preview").text == "the new content"

    browser.go("/dashboard/volumes/browser-snap")
    browser.submit('#snapshots tr[data-name="before"] button.restore', confirm=True)
    browser.notice("restored from snapshot before")
    browser.shot("snapshot-restored")
    browser.find('#entries tr[data-name="note.txt"] a.file').click()
    assert browser.wait("#preview").text == "the old content"

    browser.go("/dashboard/volumes/browser-snap")
    browser.submit('#snapshots tr[data-name="before"] button.remove', confirm=True)
    browser.notice("Snapshot before of browser-snap removed")
    assert "no snapshot yet" in browser.wait("#snapshots").text


def test_prune_dry_run_then_prune(browser: Browser) -> None:
    browser.go("/dashboard/")
    browser.open_box("prune-box")
    browser.find('#prune-box input[name="all"]').click()
    browser.submit("#prune-preview")
    listed = browser.wait("#prune-list")
    assert "browser-vol" in listed.text and "used" not in listed.text.split()
    browser.shot("prune-dry-run")
    assert browser.stage.client.api("GET", "/volumes/browser-vol").status == 200
    browser.submit("#prune-submit", confirm=True)
    browser.notice("Pruned")
    assert browser.stage.client.api("GET", "/volumes/browser-vol").status == 404
    assert browser.stage.client.api("GET", "/volumes/used").status == 200
    browser.go("/dashboard/containers")
    browser.wait('tr[data-name="user1"] a[href="/dashboard/volumes/used"]')
    browser.shot("containers")
