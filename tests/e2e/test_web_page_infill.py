"""The page's infill panel in a real headless browser: shown for a model that fills, it writes
the chosen bars and voices of the piece shown again (in the key asked, if one is) and draws the
answer."""

from __future__ import annotations

import pytest

from muse_gan.modalities.midi.constraints import Constraints
from tests.serving import Server

from .test_web_page import CHROMIUM, FLAGS, compose, sync_api


@pytest.fixture(scope="module")
def page():
    server = Server("--models", "bach-coconet", "-q")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(server.url)
        page.wait_for_selector("#control-bars")
        yield page
        browser.close()
    server.stop()


def test_the_infill_panel_writes_the_chosen_bars_again(page):
    assert page.locator("#infill").is_visible()
    assert page.locator("#infill-voices input").count() == 4
    compose(page, "bach-coconet", bars=2, seed=3)
    page.fill("#infill-bars", "2")
    page.uncheck("#infill-voices input[value='Soprano']")
    with page.expect_response(lambda response: response.url.endswith("/infill")) as answer:
        page.click("#infill-run")
    assert answer.value.status == 200
    page.wait_for_function("!document.getElementById('status').textContent.startsWith('Composing')")
    assert "2 bars" in page.inner_text("#status")
    assert int(page.get_attribute("#roll", "data-notes")) > 0


def test_the_infill_panel_keeps_the_key_asked(page):
    assert page.locator("#infill-key").is_visible()
    compose(page, "bach-coconet", bars=2, seed=3)
    page.fill("#infill-bars", "2")
    for box in page.locator("#infill-voices input").all():
        box.check()
    page.fill("#infill-key", "Eb major")
    with page.expect_response(lambda response: response.url.endswith("/infill")) as answer:
        page.click("#infill-run")
    assert answer.value.status == 200 and answer.value.request.post_data_json["key"] == "Eb major"
    new = [note["pitch"] for note in answer.value.json()["notes"] if note["start"] >= 4]
    assert new and all(pitch % 12 in Constraints.parse(key="Eb major").scale for pitch in new)
    page.fill("#infill-key", "H minor")
    with page.expect_response(lambda response: response.url.endswith("/infill")) as answer:
        page.click("#infill-run")
    assert answer.value.status == 400
    page.wait_for_function("document.getElementById('status').classList.contains('error')")
    assert page.inner_text("#status").startswith("key H minor: 'H' does not start with a note name")
