"""The labeling page and the demo page, driven in a real headless Chromium (Selenium).

Needs Debian's chromium and chromium-driver (`make test` installs them where it runs as
root with apt); skipped, with the reason, where they are missing.
"""

import csv
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port, running_server

from captcha_break.synth import SynthConfig, write_pngs

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="browser tests need chromium and chromedriver (apt-get install chromium chromium-driver)"
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium (the dev extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(condition, timeout=15.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def labels(folder: Path) -> dict[str, str]:
    path = folder / "labels.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {row["file"]: row["label"] for row in csv.DictReader(f)}


def start_labeler(folder: Path, port: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "captcha_break",
        "label",
        str(folder),
        "--model",
        "captcha4",
        "--port",
        str(port),
        "--order",
        "name",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _answers(f"http://127.0.0.1:{port}/api/progress"), 60, "the labeling server")
    return proc


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def open_page(browser, url: str) -> None:
    browser.get(url)
    wait_for(lambda: browser.execute_script("return document.body.dataset.ready === '1'"), what="the page")


def shown_file(browser) -> str:
    return browser.execute_script("return items[index] ? items[index].file : null")


def test_label_with_the_keyboard_then_kill_and_restart(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    folder = tmp_path / "shots"
    names = write_pngs(SynthConfig(), folder, 6, seed="browser")
    for i, name in enumerate(sorted(names)):  # unlabeled names, as a site's images would be
        (folder / name).rename(folder / f"shot_{i}.png")
    port = free_port()
    server = start_labeler(folder, port)
    try:
        open_page(browser, f"http://127.0.0.1:{port}/")
        answer = browser.find_element(By.ID, "answer")

        # 1. Accept the model's guess with Enter.
        first, guess = shown_file(browser), answer.get_attribute("value")
        assert first == "shot_0.png" and guess
        answer.send_keys(Keys.ENTER)
        wait_for(lambda: labels(folder).get(first) == guess, what="the accepted guess on disk")

        # 2. Correct one by typing (the guess is selected: typing replaces it).
        second = wait_for(lambda: (f := shown_file(browser)) != first and f, what="the next image")
        answer.send_keys("ZZ99", Keys.ENTER)
        wait_for(lambda: labels(folder).get(second) == "ZZ99", what="the typed label on disk")

        # 3. Mark one unreadable.
        third = wait_for(lambda: (f := shown_file(browser)) != second and f, what="the third image")
        answer.send_keys(Keys.ESCAPE)
        wait_for(lambda: labels(folder).get(third) == "", what="the unreadable mark on disk")

        # 4. Undo it: gone from the file, and the page is back on that image.
        answer.send_keys(Keys.CONTROL, "z")
        wait_for(lambda: third not in labels(folder), what="the undo on disk")
        wait_for(lambda: shown_file(browser) == third, what="the page back on the undone image")

        # 5. Reload: the page resumes with the images still unlabeled.
        open_page(browser, f"http://127.0.0.1:{port}/")
        assert shown_file(browser) == third
        assert labels(folder) == {first: guess, second: "ZZ99"}
        browser.find_element(By.ID, "answer").send_keys("AB12", Keys.ENTER)
        wait_for(lambda: labels(folder).get(third) == "AB12", what="a label after the reload")
    finally:
        server.send_signal(signal.SIGKILL)  # no clean shutdown: nothing confirmed may be lost
        server.wait(timeout=10)

    assert labels(folder) == {first: guess, second: "ZZ99", third: "AB12"}
    server = start_labeler(folder, port)
    try:
        open_page(browser, f"http://127.0.0.1:{port}/")
        assert shown_file(browser) == "shot_3.png"  # the first one never answered
        assert "3 / 6 done" in browser.find_element(By.ID, "count").text
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_demo_page_reads_a_captcha(browser, tmp_path):
    from selenium.webdriver.common.by import By

    [name] = write_pngs(SynthConfig(), tmp_path, 1, seed="demo-page")
    image = tmp_path / name
    with running_server("--model", "captcha4", "--log-level", "warning") as port:
        url = f"http://127.0.0.1:{port}"
        expected = httpx.post(f"{url}/predict", content=image.read_bytes(), timeout=10).json()["text"]
        browser.get(f"{url}/")
        browser.find_element(By.ID, "file").send_keys(str(image))
        shown = wait_for(lambda: browser.find_element(By.ID, "text").get_attribute("data-text"), what="the reading")
    assert shown == expected and shown == name.split("_")[0]  # the bundled model reads it right
    assert "ms" in browser.find_element(By.ID, "details").text
    assert browser.find_element(By.ID, "model").text == "captcha4"  # the page says which model reads


def test_two_tabs_a_length_slip_and_the_end_of_the_queue(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    folder = tmp_path / "shots"
    names = write_pngs(SynthConfig(), folder, 2, seed="tabs")
    for i, name in enumerate(sorted(names)):
        (folder / name).rename(folder / f"shot_{i}.png")
    port = free_port()
    cmd = [sys.executable, "-m", "captcha_break", "label", str(folder), "--model", "captcha4", "--port", str(port),
           "--order", "name", "--length", "4"]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: _answers(f"http://127.0.0.1:{port}/api/progress"), 60, "the labeling server")
    try:
        open_page(browser, f"http://127.0.0.1:{port}/")
        # Another tab (here: another client) labels shot_0 while this page still shows it unlabeled.
        httpx.post(f"http://127.0.0.1:{port}/api/label", json={"file": "shot_0.png", "label": "JUG0", "page": "other"})
        browser.find_element(By.ID, "answer").send_keys("JUGO", Keys.ENTER)
        wait_for(lambda: "changed elsewhere" in browser.find_element(By.ID, "error").text, what="the stale-tab message")
        assert labels(folder) == {"shot_0.png": "JUG0"}  # not overwritten
        # A label of 5 characters where 4 are expected: the page asks; dismissing saves nothing.
        browser.find_element(By.ID, "answer").send_keys(Keys.ARROW_DOWN)
        wait_for(lambda: shown_file(browser) == "shot_1.png", what="the second image")
        browser.execute_script("window.confirm = () => false")
        browser.find_element(By.ID, "answer").send_keys("ABCDE", Keys.ENTER)
        wait_for(lambda: "4 characters expected" in browser.find_element(By.ID, "error").text, what="the length question")
        assert "shot_1.png" not in labels(folder)
        browser.execute_script("window.confirm = () => true")
        browser.find_element(By.ID, "answer").send_keys(Keys.ENTER)
        wait_for(lambda: labels(folder).get("shot_1.png") == "ABCDE", what="the confirmed label")
        end = wait_for(lambda: browser.find_element(By.ID, "end").text, what="the end of the queue")
        assert "captcha-break train --data" in end and not browser.find_element(By.ID, "image").is_displayed()
    finally:
        server.terminate()
        server.wait(timeout=10)
