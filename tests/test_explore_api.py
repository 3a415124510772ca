"""The explorer's server: every scene answered by the library, bad requests refused, bounded work.

References: the lecture's hand-worked iterates (w_k - 2 = -(1 - 15 lr)^k), closed-form costs
written out here, and direct ``descend.minimize`` calls with the same arguments.
"""

import json
import math
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

import descend as ds
from descend.explore import scenes

STATIC = Path(ds.__file__).parent / "explore" / "static"


@pytest.fixture(scope="module")
def client():
    return TestClient(ds.explore.create_app(), base_url="http://127.0.0.1")


def post(client, payload):
    return client.post("/api/run", json=payload)


# ------------------------------------------------------------------------------- the catalogue


def test_catalogue_lists_every_scene_and_the_registry_optimizers(client):
    cat = client.get("/api/catalogue").json()
    ids = [s["id"] for s in cat["scenes"]]
    assert ids == ["lecture", "lecture-bias", *ds.functions.NAMES]
    for required in ("lecture", "lecture-bias", "rosenbrock", "himmelblau", "saddle"):
        assert required in ids
    assert list(cat["optimizers"]) == scenes.optimizer_names()
    for name in cat["optimizers"]:
        ds.optim.from_name(name, lr=0.01)  # every listed name is one the library knows
    # hyper-parameters shown are the constructor's defaults, betas split in two
    assert cat["optimizers"]["adam"]["params"]["beta1"] == 0.9
    assert cat["optimizers"]["adam"]["params"]["beta2"] == 0.999
    assert cat["optimizers"]["momentum"]["params"]["momentum"] == 0.9
    assert cat["limits"] == {"max_steps": 10_000, "max_runs": 6, "max_coord": 1e6}


# ------------------------------------------------------------------------------- the lecture


def test_lecture_converges_on_the_hand_worked_iterates(client):
    r = post(client, {"scene": "lecture", "start": [1.0], "steps": 100,
                      "runs": [{"optimizer": "sgd", "lr": 0.01}]}).json()
    run = r["runs"][0]
    w = np.array(run["w"])[:, 0]
    k = np.arange(101)
    np.testing.assert_allclose(w, 2 - 0.85 ** k, rtol=0, atol=1e-12)  # w_k - 2 = -(1 - 15 lr)^k
    np.testing.assert_allclose(run["loss"], 7.5 * 0.85 ** (2 * k), rtol=1e-10, atol=1e-18)  # cancellation in x w - y near the end
    assert run["verdict"] == "converged"
    assert run["status"] == "max_epochs"
    assert r["stable_lr"] == pytest.approx(2 / 15, rel=1e-9)
    # the cost curve drawn under the iterates is 7.5 (w - 2)^2 and covers w = 0..4
    cw, cc = np.array(r["curve"]["w"]), np.array(r["curve"]["cost"])
    np.testing.assert_allclose(cc, 7.5 * (cw - 2) ** 2, rtol=1e-12, atol=1e-12)
    assert cw.min() <= 0 and cw.max() >= 4


def test_lecture_past_the_stable_rate_bounces_outward_and_says_diverged(client):
    r = post(client, {"scene": "lecture", "runs": [{"optimizer": "sgd", "lr": 0.2}]}).json()
    run = r["runs"][0]
    w = np.array(run["w"])[:, 0]
    np.testing.assert_allclose(w, 2 - (-2.0) ** np.arange(len(w)), rtol=0, atol=1e-12)  # factor 1 - 3 = -2
    assert w.tolist() == [1, 4, -2, 10, -14, 34]
    assert run["status"] == "diverged" and run["verdict"] == "diverged"
    direct = ds.minimize(ds.LinearRegression(*ds.datasets.lecture(), bias=False), [1.0],
                         optimizer=ds.optim.SGD(lr=0.2), epochs=100)
    assert run["message"] == direct.message  # the library's own words
    assert min(r["curve"]["w"]) <= -14 and max(r["curve"]["w"]) >= 34  # the curve covers every bounce


def test_lecture_scene_marks_the_stable_rate(client):
    d = client.get("/api/scene/lecture").json()
    assert d["kind"] == "curve"
    assert d["stable_lr"] == pytest.approx(2 / 15, rel=1e-9)


def test_lecture_bias_runs_gd_sgd_and_minibatch_as_minimize_does(client):
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=True)
    r = post(client, {"scene": "lecture-bias", "start": [0.0, 4.0], "steps": 50,
                      "runs": [{"optimizer": "sgd", "lr": 0.05, "batch": b} for b in ("full", 1, 2)]}).json()
    assert [run["batch"] for run in r["runs"]] == ["full", 1, 2]
    for run, b in zip(r["runs"], (None, 1, 2)):
        direct = ds.minimize(obj, [0.0, 4.0], optimizer=ds.optim.SGD(lr=0.05), batch_size=b, epochs=50, seed=0)
        np.testing.assert_allclose(run["w"], direct.history.w, rtol=0, atol=1e-13)
        np.testing.assert_allclose(run["loss"], direct.history.epoch_loss, rtol=1e-13)
        assert run["steps"] == 50 * {None: 1, 1: 4, 2: 2}[b]
        assert (run["verdict"], run["message"]) == (direct.verdict, direct.message)
    # H = [[15, 5], [5, 2]]: λmax = (17 + sqrt(269)) / 2
    assert r["stable_lr"] == pytest.approx(2 / ((17 + math.sqrt(269)) / 2), rel=1e-6)


def test_lecture_bias_contour_is_the_mean_squared_error(client):
    d = client.get("/api/scene/lecture-bias").json()
    x, yv, z = np.array(d["x"]), np.array(d["y"]), np.array(d["z"], dtype=float)
    xs, ys = np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6, 8])
    for j, i in [(0, 0), (3, 70), (50, 50), (100, 17)]:
        expected = np.mean((xs * x[i] + yv[j] - ys) ** 2)
        assert z[j, i] == pytest.approx(expected, rel=1e-5)  # 6 significant digits on the wire
    assert d["minima"] == [[2.0, 0.0]]


# ------------------------------------------------------------------------------- landscapes


def himmelblau(x, y):
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


@pytest.mark.parametrize("name", list(ds.functions.NAMES))
def test_every_landscape_races_its_default_optimizers_as_minimize_does(client, name):
    f = ds.functions.NAMES[name]
    r = post(client, {"scene": name, "steps": 60}).json()
    assert r["start"] == list(f.start)
    labels = [run["optimizer"] for run in r["runs"]]
    assert labels == ["sgd", "momentum", "adam"]
    for run in r["runs"]:
        assert run["w"][0] == list(f.start)  # every trajectory starts at the start
        direct = ds.minimize(f, f.start, optimizer=ds.optim.from_name(run["optimizer"], lr=run["lr"]), epochs=60)
        assert len(run["w"]) == len(direct.history.w)
        np.testing.assert_allclose(np.array(run["w"], dtype=float), direct.history.w, rtol=1e-15, atol=0)
        assert (run["status"], run["verdict"], run["message"]) == (direct.status, direct.verdict, direct.message)
    d = client.get(f"/api/scene/{name}").json()
    assert d["bounds"] == [list(b) for b in f.bounds]
    assert len(d["z"]) == len(d["y"]) and len(d["z"][0]) == len(d["x"])


def test_himmelblau_contour_values_and_minima(client):
    d = client.get("/api/scene/himmelblau").json()
    x, y, z = np.array(d["x"]), np.array(d["y"]), np.array(d["z"], dtype=float)
    for j, i in [(0, 0), (10, 90), (50, 50), (77, 3)]:
        assert z[j, i] == pytest.approx(himmelblau(x[i], y[j]), rel=1e-5, abs=1e-9)
    for m in d["minima"]:
        assert himmelblau(*m) == pytest.approx(0, abs=1e-12)
    assert len(d["minima"]) == 4


def test_landscape_optimizers_take_their_own_hyper_parameters(client):
    f = ds.functions.rosenbrock
    req = {"scene": "rosenbrock", "start": [0.5, -0.5], "steps": 80, "runs": [
        {"optimizer": "adam", "lr": 0.03, "params": {"beta1": 0.8, "beta2": 0.99, "amsgrad": True}},
        {"optimizer": "sgd", "lr": 5e-4, "params": {"momentum": 0.5, "nesterov": True}},
        {"optimizer": "rmsprop", "lr": 2e-3, "params": {"alpha": 0.9, "centered": True}},
    ]}
    r = post(client, req).json()
    refs = [ds.optim.Adam(lr=0.03, betas=(0.8, 0.99), amsgrad=True),
            ds.optim.SGD(lr=5e-4, momentum=0.5, nesterov=True),
            ds.optim.RMSprop(lr=2e-3, alpha=0.9, centered=True)]
    for run, opt in zip(r["runs"], refs):
        direct = ds.minimize(f, [0.5, -0.5], optimizer=opt, epochs=80)
        np.testing.assert_allclose(np.array(run["w"], dtype=float), direct.history.w, rtol=1e-15, atol=0)
    assert r["runs"][0]["params"]["beta1"] == 0.8 and r["runs"][0]["params"]["amsgrad"] is True


def test_saddle_from_the_stable_axis_stalls(client):
    r = post(client, {"scene": "saddle", "start": [1.5, 0.0], "steps": 40,
                      "runs": [{"optimizer": "sgd", "lr": 0.1}]}).json()
    run = r["runs"][0]
    # x shrinks by 1 - 2 lr = 0.8 each step, y stays 0: it walks into the saddle
    np.testing.assert_allclose(np.array(run["w"])[:, 0], 1.5 * 0.8 ** np.arange(41), rtol=1e-12)
    assert all(w[1] == 0 for w in run["w"])
    assert run["verdict"] == "stalled"


# ------------------------------------------------------------------------------- bad requests


BAD = [
    ({"scene": "mountains"}, "unknown scene 'mountains'"),
    ({"scene": 3}, "scene must be a string"),
    ({"scene": "lecture", "runs": [{"optimizer": "lbfgs"}]}, "runs[0].optimizer: unknown optimizer 'lbfgs'"),
    ({"scene": "lecture", "runs": [{"optimizer": "sgd", "lr": -0.1}]}, "runs[0].lr must be > 0"),
    ({"scene": "lecture", "runs": [{"optimizer": "sgd", "lr": "0.1"}]}, "runs[0].lr must be a finite number"),
    ({"scene": "lecture", "runs": [{"optimizer": "sgd", "lr": True}]}, "runs[0].lr must be a finite number"),
    ({"scene": "lecture", "start": [1.0, 2.0]}, "start must be a list of 1 number(s)"),
    ({"scene": "himmelblau", "start": "1,2"}, "start must be a list of 2 number(s)"),
    ({"scene": "himmelblau", "start": [1.0, None]}, "start[1] must be a finite number"),
    ({"scene": "himmelblau", "start": [1.0, 1e7]}, "start must lie within"),
    ({"scene": "lecture", "steps": 0}, "steps must be an integer in [1, 10000]"),
    ({"scene": "lecture", "steps": 10_001}, "steps must be an integer in [1, 10000]"),
    ({"scene": "lecture", "steps": 2.5}, "steps must be an integer"),
    ({"scene": "lecture", "runs": []}, "runs must be a list of 1 to 6 optimizers"),
    ({"scene": "lecture", "runs": [{"optimizer": "sgd"}] * 7}, "runs must be a list of 1 to 6 optimizers"),
    ({"scene": "lecture", "runs": [{"optimizer": "sgd", "params": {"beta1": 0.9}}]},
     "runs[0].params (sgd) has unknown field 'beta1'"),
    ({"scene": "lecture", "runs": [{"optimizer": "adam", "params": {"amsgrad": 1}}]},
     "runs[0].params.amsgrad must be true or false"),
    ({"scene": "lecture", "runs": [{"optimizer": "adam", "params": {"beta1": 1.5}}]}, "runs[0]: Adam: betas[0]"),
    ({"scene": "lecture", "runs": [{"optimizer": "sgd", "params": {"__class__": 1}}]}, "unknown field '__class__'"),
    ({"scene": "rosenbrock", "runs": [{"optimizer": "sgd", "batch": 1}]}, "has no rows to batch"),
    ({"scene": "lecture", "runs": [{"optimizer": "sgd", "batch": 5}]}, "runs[0].batch must be an integer in [1, 4]"),
    ({"scene": "lecture-bias", "steps": 3000, "runs": [{"optimizer": "sgd", "batch": 1}]},
     "3000 epochs of 4 steps is 12000 steps; at most 10000"),
    ({"scene": "lecture", "epochs": 5}, "the request has unknown field 'epochs'"),
    ({"scene": "lecture", "runs": [{"optimizer": "sgd", "shell": "rm"}]}, "runs[0] has unknown field 'shell'"),
]


@pytest.mark.parametrize("payload,fragment", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_requests_get_a_clear_json_400(client, payload, fragment):
    resp = post(client, payload)
    assert resp.status_code == 400
    body = resp.json()
    assert set(body) == {"error"}
    assert fragment in body["error"]


@pytest.mark.parametrize("body,ctype,status,fragment", [
    (b'{"scene": "lecture", "start": [NaN]}', "application/json", 400, "NaN is not a finite number"),
    (b'{"scene": "lecture", "steps": Infinity}', "application/json", 400, "Infinity is not a finite number"),
    (b'{"scene": "lecture", "runs": [{"optimizer": "sgd", "lr": 1e400}]}', "application/json", 400,
     "runs[0].lr must be a finite number; got inf"),
    (b"{not json", "application/json", 400, "not valid JSON"),
    (b"\xff\xfe", "application/json", 400, "not valid JSON"),
    (b'["lecture"]', "application/json", 400, "must be a JSON object"),
    (b"scene=lecture", "application/x-www-form-urlencoded", 415, "send the request as JSON"),
    (b"\x80\x04\x95" + b"pickle" * 10, "application/octet-stream", 415, "send the request as JSON"),
    (b'{"scene": "' + b"a" * 70_000 + b'"}', "application/json", 413, "larger than 65536 bytes"),
])
def test_bodies_that_are_not_plain_json_objects_are_refused(client, body, ctype, status, fragment):
    resp = client.post("/api/run", content=body, headers={"content-type": ctype})
    assert resp.status_code == status
    assert fragment in resp.json()["error"]


def test_unknown_routes_methods_and_hosts(client):
    assert client.get("/api/run").status_code == 405
    resp = client.get("/api/scene/nowhere")
    assert resp.status_code == 404 and "unknown scene 'nowhere'" in resp.json()["error"]
    assert client.get("/static/../scenes.py").status_code == 404
    assert client.get("/static/nothing.js").status_code == 404
    # a page on another origin that rebinds its name to 127.0.0.1 is not answered
    assert client.get("/api/catalogue", headers={"host": "evil.example"}).status_code == 400


def test_work_per_request_is_bounded(client):
    # the limits accepted: 10,000 steps in a run, and six optimizers; each run takes at most 10,000 steps
    t0 = time.perf_counter()
    one = post(client, {"scene": "rosenbrock", "steps": 10_000, "runs": [{"optimizer": "adam", "lr": 1e-3}]})
    six = post(client, {"scene": "rosenbrock", "steps": 1000,
                        "runs": [{"optimizer": o, "lr": 1e-4} for o in ("sgd", "momentum", "adam", "rmsprop",
                                                                         "adagrad", "nadam")]})
    elapsed = time.perf_counter() - t0
    assert one.status_code == 200 and six.status_code == 200
    assert one.json()["runs"][0]["steps"] == 10_000 and len(one.json()["runs"][0]["w"]) == 10_001
    assert [r["steps"] for r in six.json()["runs"]] == [1000] * 6
    assert elapsed < 30, elapsed
    # one more step or one more optimizer is refused before any work is done
    t0 = time.perf_counter()
    assert post(client, {"scene": "rosenbrock", "steps": 10_001}).status_code == 400
    assert post(client, {"scene": "rosenbrock", "runs": [{"optimizer": "sgd"}] * 7}).status_code == 400
    assert time.perf_counter() - t0 < 1.0


def test_diverging_values_stay_valid_json(client):
    # monkey saddle: unbounded below; the runs leave the picture but every number is JSON
    r = post(client, {"scene": "monkey_saddle", "steps": 200, "runs": [{"optimizer": "sgd", "lr": 0.5}]})
    assert r.status_code == 200
    text = r.text
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the response"))


# ------------------------------------------------------------------------------- the page, no internet


def test_page_references_only_its_own_files(client):
    html = client.get("/")
    assert html.status_code == 200
    assert "default-src 'self'" in html.headers["content-security-policy"]
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html.text)
    assert refs, "the page links its script and style"
    for ref in refs:
        assert ref.startswith("/static/"), ref
        assert client.get(ref).status_code == 200, ref
    assert {"explore.js", "explore.css"} <= {p.name for p in STATIC.iterdir()}
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), f"external link in {path.name}"
    for ident in ("scene", "optimizer", "lr", "run", "verdict", "plot", "loss"):
        assert f'id="{ident}"' in html.text or f'"{ident}"' in (STATIC / "explore.js").read_text()


def test_explore_stays_unimported_until_used():
    code = ("import sys, descend as ds; ds.explore.SCENES; "
            "print(','.join(m for m in ('starlette', 'uvicorn', 'anyio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ------------------------------------------------------------------------------- serving


def test_serve_in_a_thread_answers_over_http():
    srv = ds.explore.serve(port=0, open_browser=False, block=False, quiet=True)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", srv.url)
        with urllib.request.urlopen(srv.url + "api/catalogue", timeout=10) as resp:
            assert resp.status == 200
            assert "lecture" in json.load(resp)["scenes"][0]["id"]
        req = urllib.request.Request(srv.url + "api/run", data=json.dumps({"scene": "booth", "steps": 5}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.load(resp)["runs"][0]["w"][0] == list(ds.functions.booth.start)
    finally:
        srv.stop()


def test_serve_refuses_bad_ports():
    with pytest.raises(ds.ParameterError, match="port must be an integer in"):
        ds.explore.serve(port=70_000, open_browser=False, block=False, quiet=True)


def test_cli_explore_prints_the_url_and_serves_until_interrupted():
    with subprocess.Popen([sys.executable, "-m", "descend", "explore", "--no-browser", "--port", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            line = proc.stdout.readline()
            m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
            assert m, line
            with urllib.request.urlopen(m.group(1), timeout=10) as resp:
                assert 'id="plot"' in resp.read().decode()
            # the same port again is taken: one error line, exit 2
            port = m.group(1).rsplit(":", 1)[1].rstrip("/")
            busy = subprocess.run([sys.executable, "-m", "descend", "explore", "--no-browser", "--port", port],
                                  capture_output=True, text=True, timeout=60)
            assert busy.returncode == 2
            assert busy.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}")
            assert "Traceback" not in busy.stderr
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
    assert proc.returncode == 0


def test_cli_explore_usage_errors():
    out = subprocess.run([sys.executable, "-m", "descend", "explore", "--port", "99999", "--no-browser"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.startswith("error:") and "--port" in out.stderr and "Traceback" not in out.stderr
