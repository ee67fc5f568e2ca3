"""The page at `/` in a real headless browser (the system's chromium, driven by Playwright):
open it, compose, see the piano roll, play it, download the MIDI and the WAV."""

from __future__ import annotations

import shutil

import pytest

from tests.serving import Server

CHROMIUM = next(
    (path for path in map(shutil.which, ("chromium", "chromium-browser")) if path), None
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="pip install -e '.[test]' brings Playwright"
)
if CHROMIUM is None:
    pytest.skip(
        "no chromium on this machine (apt-get install chromium; .ci/run does)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def server():
    running = Server("--models", "bach-rnn,bach-gan,palestrina", "--token", "page-secret", "-q")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.goto(f"{server.url}/?token=page-secret")
        page.wait_for_selector("#control-bars")
        yield page
        browser.close()


def compose(page, model: str, bars: int, seed: int):
    page.select_option("#model", model)
    page.fill("#control-bars", str(bars))
    page.fill("#control-seed", str(seed))
    page.click("#compose")
    page.wait_for_function("document.getElementById('roll').dataset.notes !== '0'")
    page.wait_for_function("!document.getElementById('compose').disabled")


def test_the_page_offers_each_models_controls(page):
    assert page.locator("#model option").all_inner_texts() == [
        "bach-rnn (RNN)",
        "bach-gan (GAN)",
        "palestrina (RNN)",
    ]
    assert page.locator("#control-decode").count() == 0
    page.select_option("#model", "bach-gan")
    assert page.locator("#control-decode option").all_inner_texts() == ["threshold", "bernoulli"]
    assert page.locator("#infill").is_hidden()  # no model offers infill yet


def test_compose_draws_the_piano_roll_and_plays_it(page, server):
    compose(page, "bach-rnn", bars=2, seed=3)
    notes = int(page.get_attribute("#roll", "data-notes"))
    assert notes > 0 and "seed 3" in page.inner_text("#status")
    inked = page.evaluate(
        """() => {
            const canvas = document.getElementById('roll');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let coloured = 0;
            for (let i = 0; i < pixels.length; i += 4) {
                if (pixels[i] !== pixels[i + 1] || pixels[i + 1] !== pixels[i + 2]) coloured += 1;
            }
            return coloured;
        }"""
    )
    assert inked > 100  # the voices' colours, not just white and grey bar lines
    page.click("#play")
    page.wait_for_function("document.body.dataset.playing === 'true'")
    page.click("#play")
    assert page.evaluate("document.body.dataset.playing") == "false"


def test_the_downloads_are_the_piece_shown(page, server):
    compose(page, "bach-rnn", bars=2, seed=4)
    with page.expect_download() as midi:
        page.click("#download-midi")
    request = {"model": "bach-rnn", "bars": 2, "seed": 4, "format": "midi"}
    expected = server.post(
        "/compose",
        {**request, "tempo": 96, "temperature": 1, "transpose": 0},
        headers={"Authorization": "Bearer page-secret"},
    )[2]
    assert midi.value.suggested_filename == "bach-rnn-seed4.mid"
    assert open(midi.value.path(), "rb").read() == expected
    with page.expect_download() as wav:
        page.click("#download-wav")
    assert open(wav.value.path(), "rb").read()[:4] == b"RIFF"


def test_continue_goes_on_from_the_piece_shown(page):
    compose(page, "bach-rnn", bars=2, seed=5)
    page.click("#continue")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('6 bars')")


def test_a_refusal_is_shown_as_its_line(page):
    page.select_option("#model", "bach-rnn")
    page.fill("#control-bars", "999")
    page.click("#compose")
    page.wait_for_function("document.getElementById('status').classList.contains('error')")
    assert page.inner_text("#status").startswith("bars: 999 is not from 1 to 64")


def test_a_pull_the_model_sets_by_class_is_left_to_it(page, server):
    # palestrina's rest_hold and note_hold are its own per voice count (midi.class_pulls): the
    # page shows no value and sends none, so it composes what the command line composes
    compose(page, "palestrina", bars=2, seed=4)
    for name in ("rest_hold", "note_hold"):
        field = page.locator(f"#control-{name}")
        assert field.input_value() == "" and field.get_attribute("placeholder") == "the model's"
    with page.expect_download() as midi:
        page.click("#download-midi")
    request = {"model": "palestrina", "bars": 2, "seed": 4, "format": "midi", "tempo": 160}
    request |= {"temperature": 1, "transpose": 0, "key_hold": 1, "voice_span": 0}
    request |= {"ensemble_span": 28}  # the page's fields that have a default: the model's own
    headers = {"Authorization": "Bearer page-secret"}
    expected = server.post("/compose", request, headers=headers)[2]
    assert open(midi.value.path(), "rb").read() == expected
    unpulled = server.post("/compose", {**request, "rest_hold": 0}, headers=headers)[2]
    assert unpulled != expected  # what the page would have made sending the [midi] value
