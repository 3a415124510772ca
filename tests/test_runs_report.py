"""The HTML report: one self-contained file, opened in headless Chromium, figures drawn."""

import base64
import io
import re
import shutil

import numpy as np
import pytest
from PIL import Image

import descend as ds

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A store with two runs (one diverged) and the report on both, written once for this module."""
    tmp_path = tmp_path_factory.mktemp("report")
    store = ds.runs.Store(tmp_path / "runs")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 3))
    obj = ds.LinearRegression(X, X @ [1.0, 2.0, -1.0] + 0.2 * rng.normal(size=120))
    ds.minimize(obj, np.zeros(4), optimizer=ds.optim.SGD(lr=ds.schedules.cosine(0.05, T=60), momentum=0.9),
                batch_size=8, epochs=4, callbacks=[store.recorder(name="cosine momentum")])
    lecture = ds.LinearRegression(*ds.datasets.lecture(), bias=False)
    ds.minimize(lecture, [1.0], optimizer=ds.optim.SGD(lr=0.2), epochs=50, callbacks=[store.recorder(name="too hot")])
    return store, ds.runs.report(store, [1, 2], tmp_path / "report.html")


def test_report_is_self_contained(report):
    store, out = report
    text = out.read_text()
    plain = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:", text)
    assert not re.search(r"(?i)(https?:)?//[a-z0-9]", plain)  # no address leaves the file
    assert "<script" not in plain and "<link" not in plain and "url(" not in plain and "@import" not in plain
    assert re.findall(r'(?:src|href)="([^"]*)"', plain) == ["data:"] * 7
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', text)
    assert len(srcs) == 1 + 3 * 2  # the comparison, then per run: loss per epoch, per step, lr and grad norm
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert img.size[0] > 300 and img.size[1] > 200
    two = store.load(2)
    assert two.message in text.replace("&#x27;", "'") and "diverged" in text
    assert "Comparison" in text and "cosine momentum" in text and "too hot" in text


def test_report_renders_in_headless_chromium(report, tmp_path):
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is not installed: `make test` installs it (apt-get install chromium)."
    store, out = report
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.resolve().as_uri())
            page.wait_for_load_state("load")
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, "
                                   "i.naturalHeight, i.getBoundingClientRect().width, i.alt])")
            body = page.inner_text("body")
            shot = page.screenshot(full_page=True, path=str(tmp_path / "report.png"))
        finally:
            browser.close()
    assert len(images) == 7
    for complete, w, h, shown, alt in images:
        assert complete and w > 300 and h > 200 and shown > 300, alt
    assert {u.split(":", 1)[0] for u in requests} <= {"file", "data"}, requests  # nothing leaves the page
    assert "status diverged" in body and "Run 1: cosine momentum" in body and "Comparison" in body
    picture = np.asarray(Image.open(io.BytesIO(shot)).convert("L"), dtype=float)
    assert picture.shape[0] > 2000  # the whole page: seven figures and the tables
    assert picture.std() > 10  # not a blank page
