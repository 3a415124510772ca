"""The explorer in a real browser: Debian's Chromium driven by Playwright.

The page is loaded from a server started here on a free port; every request the browser makes
must stay on that server. These tests FAIL (never skip) when Chromium is missing: `make test`
installs it (apt-get install chromium). Screenshots go to descend-out/explore/ (git-ignored).
"""

import json
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

import descend as ds

SHOTS = Path(__file__).resolve().parents[1] / "descend-out" / "explore"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def server():
    srv = ds.explore.serve(port=0, open_browser=False, block=False, quiet=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("Debian's chromium is not installed, so the explorer's browser tests cannot run: "
                    "`apt-get install chromium` (make test does it).", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh page that records every request and every script error; both checked at the end."""
    context = browser.new_context(viewport={"width": 1150, "height": 900})
    pg = context.new_page()
    pg.requests, pg.errors, pg.expected_error = [], [], None
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    yield pg
    origin = server.url.rstrip("/")
    outside = [u for u in pg.requests if not (u == origin or u.startswith(origin + "/"))]
    context.close()
    assert pg.requests, "the page made no requests at all"
    assert outside == [], f"requests left the server: {outside}"
    errors = [e for e in pg.errors if not (pg.expected_error and pg.expected_error in e)]
    assert errors == [], f"script errors: {errors}"


def expect(locator):
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def shot(pg, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"))


def drawn(pg, n=None, scene=None):
    """Wait until the page has drawn its n-th result (and of ``scene``)."""
    body = pg.locator("body")
    if scene is not None:
        expect(body).to_have_attribute("data-scene", scene)
    if n is not None:
        expect(body).to_have_attribute("data-runs", str(n))


def test_lecture_lr_past_the_stable_limit_diverges_then_converges(page, server):
    page.goto(server.url)
    drawn(page, 1, "lecture")
    # every src/href in the document points at this server
    for ref in page.eval_on_selector_all("[src],[href]", "els => els.map(e => e.src || e.href)"):
        assert ref.startswith(server.url), ref
    page.select_option("#scene", "lecture")
    # the stable limit on the slider is the library's 2/15
    expect(page.locator("#lr-mark")).to_contain_text("0.1333")
    with page.expect_response(lambda r: r.url.endswith("/api/run")) as resp:
        page.fill("#lr", "0.2")
        page.click("#run")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "diverged")
    lecture = ds.LinearRegression(*ds.datasets.lecture(), bias=False)
    direct = ds.minimize(lecture, [1.0], optimizer=ds.optim.SGD(lr=0.2), epochs=100)
    assert page.inner_text("#verdict .code") == "diverged"
    assert page.inner_text("#verdict .msg") == direct.message  # the library's message, as it is
    run = resp.value.json()["runs"][0]
    assert [w[0] for w in run["w"]] == [1, 4, -2, 10, -14, 34]  # bouncing outward by -2 each step
    shot(page, "lecture-diverged")

    page.fill("#lr", "0.01")
    page.click("#run")
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "converged")
    direct = ds.minimize(lecture, [1.0], optimizer=ds.optim.SGD(lr=0.01), epochs=100)
    assert page.inner_text("#verdict .msg") == direct.message
    q = parse_qs(urlsplit(page.url).query)
    assert q["scene"] == ["lecture"] and q["opt"][0].startswith("sgd,lr=0.01")
    shot(page, "lecture-converged")

    # a click on the curve moves the start w0 there
    plot = page.locator("#plot")
    box = plot.bounding_box()
    area = {k: float(plot.get_attribute(f"data-{k}")) for k in ("left", "top", "width", "height")}
    curve_w = page.evaluate("window.explore.result.curve.w")
    lo, hi = curve_w[0], curve_w[-1]  # the range of the cost curve the server sampled
    with page.expect_response(lambda r: r.url.endswith("/api/run")) as resp:
        page.mouse.click(box["x"] + area["left"] + 0.75 * area["width"], box["y"] + area["top"] + 0.5 * area["height"])
    run_w = resp.value.json()["runs"][0]["w"]
    assert abs(run_w[0][0] - (lo + 0.75 * (hi - lo))) <= 1.5 * (hi - lo) / area["width"]


def test_click_on_himmelblau_starts_the_race_there(page, server):
    page.goto(server.url + "?scene=himmelblau")
    drawn(page, scene="himmelblau")
    plot = page.locator("#plot")
    box = plot.bounding_box()
    area = {k: float(plot.get_attribute(f"data-{k}")) for k in ("left", "top", "width", "height")}
    (x0, x1), (y0, y1) = ds.functions.himmelblau.bounds  # the library's domain, -5..5
    u, v = 0.3, 0.8  # a fraction of the plot area from its left and its top
    px, py = area["left"] + u * area["width"], area["top"] + v * area["height"]
    with page.expect_response(lambda r: r.url.endswith("/api/run")) as resp:
        page.mouse.click(box["x"] + px, box["y"] + py)
    result = resp.value.json()
    expected = np.array([x0 + u * (x1 - x0), y1 - v * (y1 - y0)])  # (-2, -3)
    pixel = np.array([(x1 - x0) / area["width"], (y1 - y0) / area["height"]])
    start = np.array(result["start"])
    assert np.all(np.abs(start - expected) <= 1.5 * pixel), (start, expected, pixel)
    assert len(result["runs"]) == 3
    for run in result["runs"]:
        assert run["w"][0] == result["start"]  # every trajectory starts at the click
        direct = ds.minimize(ds.functions.himmelblau, start, optimizer=ds.optim.from_name(run["optimizer"],
                             lr=run["lr"]), epochs=result["steps"])
        np.testing.assert_allclose(run["w"][-1], direct.history.w[-1], rtol=1e-12)
    q = parse_qs(urlsplit(page.url).query)
    np.testing.assert_allclose([float(s) for s in q["start"][0].split(",")], start)
    shot(page, "himmelblau-click")


def test_the_url_restores_a_shared_view(page, server):
    page.goto(server.url + "?scene=rosenbrock&steps=300&start=-1,2.5"
              "&opt=adam,lr=0.02,beta1=0.8&opt=momentum,lr=0.0005&opt=rmsprop,lr=0.003")
    drawn(page, scene="rosenbrock")
    expect(page.locator("#scene")).to_have_value("rosenbrock")
    expect(page.locator("#optimizer")).to_have_value("adam")
    expect(page.locator("#lr")).to_have_value("0.02")
    assert page.locator(".runner").count() == 3
    with page.expect_response(lambda r: r.url.endswith("/api/run")) as resp:
        page.click("#run")
    result = resp.value.json()
    assert result["start"] == [-1, 2.5] and result["steps"] == 300
    assert [(r["optimizer"], r["lr"]) for r in result["runs"]] == [("adam", 0.02), ("momentum", 0.0005),
                                                                   ("rmsprop", 0.003)]
    assert result["runs"][0]["params"]["beta1"] == 0.8
    direct = ds.minimize(ds.functions.rosenbrock, [-1, 2.5], optimizer=ds.optim.Adam(lr=0.02, betas=(0.8, 0.999)),
                         epochs=300)
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", direct.verdict)
    expect(page.locator("#verdict .msg")).to_have_text(direct.message)
    shot(page, "rosenbrock-three")


def test_play_step_reset_and_a_bad_value_shows_the_servers_error(page, server):
    page.goto(server.url + "?scene=saddle&steps=40&opt=sgd,lr=0.1")
    drawn(page, scene="saddle")
    frame = page.locator("#frame")
    expect(frame).to_have_text("epoch 40 of 40")
    page.click("#reset")
    expect(frame).to_have_text("epoch 0 of 40")
    page.click("#step")
    page.click("#step")
    expect(frame).to_have_text("epoch 2 of 40")
    loss = page.locator("#loss")  # the loss chart is linked: a press on it scrubs to that step
    box = loss.bounding_box()
    area = {k: float(loss.get_attribute(f"data-{k}")) for k in ("left", "top", "width", "height")}
    page.mouse.click(box["x"] + area["left"] + 0.5 * area["width"], box["y"] + area["top"] + 0.5 * area["height"])
    expect(frame).to_have_text("epoch 20 of 40")
    page.click("#play")
    expect(frame).to_have_text("epoch 40 of 40")
    expect(page.locator("#play")).to_have_text("Play")
    # a learning rate the library refuses: the server's one-sentence error, shown as it is
    page.fill("#lr", "-1")
    page.click("#run")
    expect(page.locator("#error")).to_have_text("error: runs[0].lr must be > 0; got -1.0.")
    assert any("status of 400" in e for e in page.errors), "the browser saw the HTTP 400"
    page.expected_error = "the server responded with a status of 400"
    shot(page, "saddle-error")


def test_every_scene_draws(page, server):
    page.goto(server.url)
    drawn(page, 1, "lecture")
    scenes = [o for o in page.eval_on_selector_all("#scene option", "os => os.map(o => o.value)")]
    assert scenes == list(ds.explore.SCENES)
    for name in scenes[1:]:
        page.select_option("#scene", name)
        drawn(page, scene=name)
        expect(page.locator("#summary tr")).to_have_count(1 + page.locator(".runner").count())
    shot(page, "monkey-saddle")


def test_render_times(page, server):
    """How long the first render and a re-run take (fetch + draw, performance.now() in the page)."""
    timings = {}
    for scene, url in (("lecture", server.url), ("rosenbrock", server.url + "?scene=rosenbrock")):
        page.goto(url)  # rosenbrock: the default race of sgd, momentum and adam, 1000 steps each
        drawn(page, 1, scene)
        page.click("#run")
        drawn(page, 2)
        t = page.evaluate("window.explore.timings")
        assert [x["scene"] for x in t] == [scene, scene]
        timings[scene] = {"first_render_ms_since_navigation": t[0]["end"], "first_run_ms": t[0]["ms"],
                          "rerun_ms": t[1]["ms"], "rerun_server_ms": t[1]["server_ms"], "optimizers": t[0]["runs"]}
        assert 0 < t[1]["server_ms"] < t[1]["ms"]  # minimize's share, from the Server-Timing header
        assert 0 < t[1]["ms"] < 20_000 and 0 < t[0]["end"] < 30_000
    assert timings["rosenbrock"]["optimizers"] == 3
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "timings.json").write_text(json.dumps(timings, indent=1))
