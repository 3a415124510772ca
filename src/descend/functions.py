r"""Test landscapes on R²: exact gradients and Hessians, their plotting domain and special points.

Each landscape is an :class:`~descend.objectives.Objective` with ``n_params = 2`` and no rows
(``n_samples = None``), so :func:`~descend.loop.minimize` takes one step per epoch on it:

=================  ==========================================================  ======================
name               f(x, y)                                                     global minimum
=================  ==========================================================  ======================
rosenbrock         (1 - x)² + 100 (y - x²)²                                    (1, 1), f = 0
rastrigin          2A + Σ (x_i² - A cos 2πx_i), A = 10                         (0, 0), f = 0
himmelblau         (x² + y - 11)² + (x + y² - 7)²                              four, f = 0
beale              Σ_i (c_i - x + x yⁱ)², c = (1.5, 2.25, 2.625)               (3, 0.5), f = 0
booth              (x + 2y - 7)² + (2x + y - 5)²                               (1, 3), f = 0
ackley             -20 e^{-0.2 √(½(x²+y²))} - e^{½(cos 2πx + cos 2πy)} + e + 20  (0, 0), f = 0
six_hump_camel     (4 - 2.1x² + x⁴/3) x² + xy + (4y² - 4) y²                   ±(0.0898, -0.7126), f ≈ -1.0316
saddle             x² - y²                                                     none (saddle at 0)
monkey_saddle      x³ - 3xy²                                                   none (degenerate at 0)
=================  ==========================================================  ======================

Every landscape has ``bounds`` (its usual plotting domain, ((x_lo, x_hi), (y_lo, y_hi))),
``minima`` (the global minima, an (k, 2) array), ``min_value`` (f there, None when unbounded),
``local_minima``, ``saddles`` and ``maxima`` (other critical points inside ``bounds`` where
known; found once by Newton's method and stored to 1e-12), ``start`` (a classic starting
point), ``lrs`` (learning rates that make a readable picture, per optimizer name) and
``steps``. ``f(x, y)`` is vectorised over arrays; ``loss_many(W)`` evaluates rows of W at once.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .errors import ParameterError
from .objectives import Objective

__all__ = ["Landscape", "Rosenbrock", "Rastrigin", "Himmelblau", "Beale", "Booth", "Ackley", "SixHumpCamel",
           "Saddle", "MonkeySaddle", "rosenbrock", "rastrigin", "himmelblau", "beale", "booth", "ackley",
           "six_hump_camel", "saddle", "monkey_saddle", "NAMES", "get", "trajectories"]

_NONE = np.zeros((0, 2))


def _points(pts) -> np.ndarray:
    a = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    a.flags.writeable = False
    return a


class Landscape(Objective):
    """A function of two parameters with an exact gradient and Hessian.

    Subclasses define ``f(x, y)``, ``df(x, y) -> (f_x, f_y)`` and
    ``d2f(x, y) -> (f_xx, f_xy, f_yy)``, all vectorised over arrays of the same shape.
    """

    n_params = 2
    n_samples = None
    name = "landscape"
    formula = ""
    bounds = ((-2.0, 2.0), (-2.0, 2.0))
    minima = _NONE
    min_value: float | None = None
    local_minima = _NONE
    saddles = _NONE
    maxima = _NONE
    start = (1.0, 1.0)
    lrs = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adam": 0.1}
    steps = 200

    def f(self, x, y):
        raise NotImplementedError

    def df(self, x, y):
        raise NotImplementedError

    def d2f(self, x, y):
        raise NotImplementedError

    def __repr__(self):
        return f"<landscape {self.name}: {self.formula}>"

    def loss(self, w, rows=None) -> float:
        self._no_rows(rows)
        w = np.asarray(w, dtype=np.float64)
        return float(self.f(w[0], w[1]))

    def grad(self, w, rows=None) -> np.ndarray:
        self._no_rows(rows)
        w = np.asarray(w, dtype=np.float64)
        return np.array(self.df(w[0], w[1]), dtype=np.float64)

    def hessian(self, w) -> np.ndarray:
        """The exact Hessian [[f_xx, f_xy], [f_xy, f_yy]] at ``w``."""
        w = np.asarray(w, dtype=np.float64)
        fxx, fxy, fyy = self.d2f(w[0], w[1])
        return np.array([[fxx, fxy], [fxy, fyy]], dtype=np.float64)

    def loss_many(self, W) -> np.ndarray:
        W = np.atleast_2d(np.asarray(W, dtype=np.float64))
        return np.asarray(self.f(W[:, 0], W[:, 1]), dtype=np.float64)

    def surface(self, bounds=None, num: int = 201):
        """Grid axes xs, ys and values Z[j, i] = f(xs[i], ys[j]) (contour's layout) over ``bounds``."""
        (x0, x1), (y0, y1) = self.bounds if bounds is None else bounds
        xs, ys = np.linspace(x0, x1, num), np.linspace(y0, y1, num)
        X, Y = np.meshgrid(xs, ys)
        with np.errstate(all="ignore"):
            return xs, ys, self.f(X, Y)

    @property
    def known_minima(self) -> np.ndarray:
        """Global then local minima: every minimum listed for this landscape."""
        return np.concatenate([self.minima, self.local_minima])


class Rosenbrock(Landscape):
    """Rosenbrock's banana valley (a - x)² + b (y - x²)²: minimum (a, a²), f = 0; a curved flat valley."""

    name = "rosenbrock"
    bounds = ((-2.0, 2.0), (-1.0, 3.0))
    start = (-1.5, 2.0)
    lrs = {"sgd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adam": 0.05, "rmsprop": 0.01, "adagrad": 0.5}
    steps = 1000

    def __init__(self, a: float = 1.0, b: float = 100.0):
        self.a, self.b = float(a), float(b)
        self.formula = f"({self.a:g} - x)^2 + {self.b:g} (y - x^2)^2"
        self.minima = _points([self.a, self.a**2])
        self.min_value = 0.0

    def f(self, x, y):
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def df(self, x, y):
        r = y - x * x
        return -2 * (self.a - x) - 4 * self.b * x * r, 2 * self.b * r

    def d2f(self, x, y):
        return 2 - 4 * self.b * (y - x * x) + 8 * self.b * x * x, -4 * self.b * x, 2 * self.b + 0 * x


@functools.cache
def _rastrigin_1d(A: float):
    """Critical points of g(x) = x² - A cos 2πx on [-5.12, 5.12]: (minima, maxima), by Newton's method."""
    def newton(x):
        for _ in range(60):
            x = x - (2 * x + 2 * math.pi * A * np.sin(2 * math.pi * x)) / (2 + 4 * math.pi**2 * A * np.cos(2 * math.pi * x))
        return x
    mins = newton(np.arange(-5.0, 6.0))
    maxs = newton(np.arange(-4.5, 5.0))
    return mins[np.abs(mins) <= 5.12], maxs[np.abs(maxs) <= 5.12]


class Rastrigin(Landscape):
    """Rastrigin: a bowl x² + y² riddled with A-deep ripples; minimum (0, 0), f = 0, and a grid of local
    minima near the integer points (slightly pulled towards 0)."""

    name = "rastrigin"
    bounds = ((-5.12, 5.12), (-5.12, 5.12))
    start = (2.2, 2.6)
    lrs = {"sgd": 2e-3, "momentum": 2e-3, "nesterov": 2e-3, "adam": 0.1, "rmsprop": 0.05, "adagrad": 0.5}
    steps = 300

    def __init__(self, A: float = 10.0):
        self.A = float(A)
        self.formula = f"{2 * self.A:g} + x^2 - {self.A:g} cos(2 pi x) + y^2 - {self.A:g} cos(2 pi y)"
        self.minima = _points([0.0, 0.0])
        self.min_value = 0.0

    def _grid(self, a, b):
        X, Y = np.meshgrid(a, b, indexing="ij")
        return _points(np.column_stack([X.ravel(), Y.ravel()]))

    @property
    def local_minima(self):
        m, _ = _rastrigin_1d(self.A)
        pts = self._grid(m, m)
        return pts[np.any(pts != 0.0, axis=1)]

    @property
    def saddles(self):
        m, M = _rastrigin_1d(self.A)
        return _points(np.concatenate([self._grid(m, M), self._grid(M, m)]))

    @property
    def maxima(self):
        _, M = _rastrigin_1d(self.A)
        return self._grid(M, M)

    def f(self, x, y):
        A, tau = self.A, 2 * math.pi
        return 2 * A + x * x - A * np.cos(tau * x) + y * y - A * np.cos(tau * y)

    def df(self, x, y):
        A, tau = self.A, 2 * math.pi
        return 2 * x + tau * A * np.sin(tau * x), 2 * y + tau * A * np.sin(tau * y)

    def d2f(self, x, y):
        A, tau = self.A, 2 * math.pi
        return 2 + tau**2 * A * np.cos(tau * x), 0 * x, 2 + tau**2 * A * np.cos(tau * y)


class Himmelblau(Landscape):
    """Himmelblau: four minima with f = 0, a local maximum near (-0.270845, -0.923039), four saddles."""

    name = "himmelblau"
    formula = "(x^2 + y - 11)^2 + (x + y^2 - 7)^2"
    bounds = ((-5.0, 5.0), (-5.0, 5.0))
    minima = _points([[3.0, 2.0], [-2.805118086952745, 3.131312518250573],
                      [-3.779310253377747, -3.283185991286169], [3.5844283403304917, -1.8481265269644034]])
    min_value = 0.0
    maxima = _points([-0.2708445906673476, -0.9230385564799816])
    saddles = _points([[-3.0730257507643897, -0.08135304428796751], [-0.12796134673068005, -1.9537149802445766],
                       [0.08667750455539634, 2.884254701174776], [3.385154183607021, 0.07385187983774928]])
    start = (-0.3, -0.5)
    lrs = {"sgd": 0.01, "momentum": 2e-3, "nesterov": 2e-3, "adam": 0.1, "rmsprop": 0.05, "adagrad": 0.5}
    steps = 200

    def f(self, x, y):
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2

    def df(self, x, y):
        u, v = x * x + y - 11, x + y * y - 7
        return 4 * x * u + 2 * v, 2 * u + 4 * y * v

    def d2f(self, x, y):
        u, v = x * x + y - 11, x + y * y - 7
        return 4 * u + 8 * x * x + 2, 4 * x + 4 * y, 4 * v + 8 * y * y + 2


class Beale(Landscape):
    """Beale: minimum (3, 0.5), f = 0, in a narrow curved valley; saddles at (0, 1) and near (0.1, -2.64)."""

    name = "beale"
    formula = "(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2"
    bounds = ((-4.5, 4.5), (-4.5, 4.5))
    minima = _points([3.0, 0.5])
    min_value = 0.0
    saddles = _points([[0.0, 1.0], [0.10053793732415837, -2.644513585023125]])
    start = (1.0, 1.5)
    lrs = {"sgd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adam": 0.05, "rmsprop": 0.01, "adagrad": 0.5}
    steps = 1000
    _c = (1.5, 2.25, 2.625)

    def f(self, x, y):
        return sum((c - x + x * y**i) ** 2 for i, c in enumerate(self._c, 1))

    def df(self, x, y):
        fx = fy = 0.0
        for i, c in enumerate(self._c, 1):
            u = c - x + x * y**i
            fx = fx + 2 * u * (y**i - 1)
            fy = fy + 2 * u * i * x * y ** (i - 1)
        return fx, fy

    def d2f(self, x, y):
        fxx = fxy = fyy = 0.0
        for i, c in enumerate(self._c, 1):
            u = c - x + x * y**i
            ux, uy = y**i - 1, i * x * y ** (i - 1)
            uxy = i * y ** (i - 1)
            uyy = i * (i - 1) * x * y ** (i - 2) if i >= 2 else 0.0
            fxx = fxx + 2 * ux * ux
            fxy = fxy + 2 * (ux * uy + u * uxy)
            fyy = fyy + 2 * (uy * uy + u * uyy)
        return fxx, fxy, fyy


class Booth(Landscape):
    """Booth: a tilted convex quadratic, minimum (1, 3), f = 0; constant Hessian [[10, 8], [8, 10]]."""

    name = "booth"
    formula = "(x + 2y - 7)^2 + (2x + y - 5)^2"
    bounds = ((-10.0, 10.0), (-10.0, 10.0))
    minima = _points([1.0, 3.0])
    min_value = 0.0
    start = (-8.0, -6.0)
    lrs = {"sgd": 0.02, "momentum": 0.01, "nesterov": 0.01, "adam": 0.5, "rmsprop": 0.2, "adagrad": 2.0}
    steps = 200

    def f(self, x, y):
        return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2

    def df(self, x, y):
        u, v = x + 2 * y - 7, 2 * x + y - 5
        return 2 * u + 4 * v, 4 * u + 2 * v

    def d2f(self, x, y):
        return 10 + 0 * x, 8 + 0 * x, 10 + 0 * x


class Ackley(Landscape):
    """Ackley: a nearly flat outer region full of ripples and a deep hole at (0, 0), f = 0.

    The cone term is not differentiable at the origin itself; there ``grad`` and ``hessian`` take
    only the smooth cosine term (the gradient is 0, the Hessian positive definite).
    """

    name = "ackley"
    formula = "-20 exp(-0.2 sqrt((x^2 + y^2)/2)) - exp((cos 2 pi x + cos 2 pi y)/2) + e + 20"
    bounds = ((-5.0, 5.0), (-5.0, 5.0))
    minima = _points([0.0, 0.0])
    min_value = 0.0
    start = (2.3, 1.6)
    lrs = {"sgd": 0.01, "momentum": 0.005, "nesterov": 0.005, "adam": 0.1, "rmsprop": 0.05, "adagrad": 0.5}
    steps = 300

    def f(self, x, y):
        tau = 2 * math.pi
        r = np.sqrt(0.5 * (x * x + y * y))
        return -20 * np.exp(-0.2 * r) - np.exp(0.5 * (np.cos(tau * x) + np.cos(tau * y))) + math.e + 20

    def _parts(self, x, y):
        tau = 2 * math.pi
        r = np.sqrt(0.5 * (x * x + y * y))
        a = 4 * np.exp(-0.2 * r)  # the cone term: -20 e^{-0.2 r}, dr/dx = x / (2r)
        b = np.exp(0.5 * (np.cos(tau * x) + np.cos(tau * y)))
        return tau, r, a, b

    def df(self, x, y):
        tau, r, a, b = self._parts(x, y)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(r > 0, a / (2 * np.where(r > 0, r, 1.0)), 0.0)
        return c * x + 0.5 * tau * np.sin(tau * x) * b, c * y + 0.5 * tau * np.sin(tau * y) * b

    def d2f(self, x, y):
        tau, r, a, b = self._parts(x, y)
        sx, sy = 0.5 * tau * np.sin(tau * x), 0.5 * tau * np.sin(tau * y)
        # smooth part: b (sx, sy); its Jacobian is b [sx^2 + tau^2/2 cos, sx sy; ., sy^2 + tau^2/2 cos]
        fxx = b * (0.5 * tau**2 * np.cos(tau * x) - sx * sx)
        fyy = b * (0.5 * tau**2 * np.cos(tau * y) - sy * sy)
        fxy = -b * sx * sy
        # cone part: c(r) (x, y) with c = a / (2r); dc/dx = c'(r) x / (2r), c'(r) = -0.2 c - c / r
        pos = r > 0
        rr = np.where(pos, r, 1.0)
        c = np.where(pos, a / (2 * rr), 0.0)
        k = np.where(pos, (-0.2 * c - c / rr) / (2 * rr), 0.0)
        return fxx + c + k * x * x, fxy + k * x * y, fyy + c + k * y * y


class SixHumpCamel(Landscape):
    """Six-hump camel: two global minima ±(0.0898, -0.7126), f ≈ -1.0316, four more local minima,
    two local maxima and seven saddles (one at the origin)."""

    name = "six_hump_camel"
    formula = "(4 - 2.1 x^2 + x^4/3) x^2 + xy + (4y^2 - 4) y^2"
    bounds = ((-3.0, 3.0), (-2.0, 2.0))
    minima = _points([[0.08984201310031807, -0.7126564030207396], [-0.08984201310031807, 0.7126564030207396]])
    min_value = -1.0316284534898774
    local_minima = _points([[-1.7036067149699814, 0.7960835686726251], [1.7036067149699814, -0.7960835686726251],
                            [-1.6071047529201974, -0.5686514548841313], [1.6071047529201976, 0.5686514548841313]])
    maxima = _points([[-1.2302298765166526, -0.16233458445899498], [1.2302298765166524, 0.16233458445899493]])
    saddles = _points([[0.0, 0.0],
                       [-1.6380679841897785, -0.22867406904439408], [1.6380679841897785, 0.22867406904439408],
                       [-1.2960702671671092, -0.6050843880386585], [1.2960702671671092, 0.6050843880386585],
                       [-1.1092053368047865, 0.7682680925095399], [1.1092053368047865, -0.7682680925095399]])
    start = (-1.5, 1.5)
    lrs = {"sgd": 0.01, "momentum": 0.005, "nesterov": 0.005, "adam": 0.05, "rmsprop": 0.02, "adagrad": 0.3}
    steps = 300

    def f(self, x, y):
        return (4 - 2.1 * x * x + x**4 / 3) * x * x + x * y + (4 * y * y - 4) * y * y

    def df(self, x, y):
        return 8 * x - 8.4 * x**3 + 2 * x**5 + y, x - 8 * y + 16 * y**3

    def d2f(self, x, y):
        return 8 - 25.2 * x * x + 10 * x**4, 1 + 0 * x, -8 + 48 * y * y


class Saddle(Landscape):
    """The saddle x² - y²: the gradient vanishes at (0, 0), a minimum along x and a maximum along y.

    Gradient descent started on the x axis (y = 0 exactly) walks into the saddle and stalls there;
    any perturbation in y grows by (1 + 2 lr) per step and escapes. Unbounded below.
    """

    name = "saddle"
    formula = "x^2 - y^2"
    saddles = _points([0.0, 0.0])
    start = (1.5, 0.0)
    lrs = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.05, "rmsprop": 0.05, "adagrad": 0.3}
    steps = 40

    def f(self, x, y):
        return x * x - y * y

    def df(self, x, y):
        return 2 * x, -2 * y

    def d2f(self, x, y):
        return 2 + 0 * x, 0 * x, -2 + 0 * x


class MonkeySaddle(Landscape):
    """The monkey saddle x³ - 3xy²: three valleys and three ridges meet at (0, 0), where the gradient
    and the Hessian both vanish (a degenerate critical point). Unbounded below."""

    name = "monkey_saddle"
    formula = "x^3 - 3 x y^2"
    bounds = ((-1.5, 1.5), (-1.5, 1.5))
    saddles = _points([0.0, 0.0])
    start = (1.0, 0.05)
    lrs = {"sgd": 0.05, "momentum": 0.02, "nesterov": 0.02, "adam": 0.05, "rmsprop": 0.02, "adagrad": 0.2}
    steps = 100

    def f(self, x, y):
        return x**3 - 3 * x * y * y

    def df(self, x, y):
        return 3 * x * x - 3 * y * y, -6 * x * y

    def d2f(self, x, y):
        return 6 * x, -6 * y, -6 * x


rosenbrock = Rosenbrock()
rastrigin = Rastrigin()
himmelblau = Himmelblau()
beale = Beale()
booth = Booth()
ackley = Ackley()
six_hump_camel = SixHumpCamel()
saddle = Saddle()
monkey_saddle = MonkeySaddle()

NAMES = {f.name: f for f in (rosenbrock, rastrigin, himmelblau, beale, booth, ackley, six_hump_camel, saddle,
                             monkey_saddle)}


def get(name: str) -> Landscape:
    """The landscape called ``name`` (case and '-' / '_' insensitive), or a ParameterError listing them."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in NAMES:
        raise ParameterError(f"unknown landscape {name!r}; choose one of {', '.join(NAMES)}.")
    return NAMES[key]


def trajectories(objective: Landscape, optimizers=("sgd", "momentum", "adam"), lr: float | None = None,
                 start=None, steps: int | None = None) -> list:
    """One ``minimize`` run per optimizer name from the same start: the pictures' runs.

    Learning rates default to ``objective.lrs`` per optimizer (0.01 when not listed); ``lr``
    overrides them all. ``start`` defaults to ``objective.start`` and ``steps`` (one step
    per epoch) to ``objective.steps``. Each result's ``label`` is "name (lr=...)".
    """
    from . import optim
    from .loop import minimize

    if isinstance(optimizers, str):
        optimizers = [o.strip() for o in optimizers.split(",") if o.strip()]
    if not optimizers:
        raise ParameterError("optimizers is empty; name at least one, e.g. sgd,momentum,adam.")
    start = getattr(objective, "start", None) if start is None else start
    steps = getattr(objective, "steps", 200) if steps is None else steps
    lrs = getattr(objective, "lrs", {})
    results = []
    for name in optimizers:
        rate = lr if lr is not None else lrs.get(name.lower(), 0.01)
        opt = optim.from_name(name, lr=rate)
        results.append(minimize(objective, start, optimizer=opt, epochs=steps, label=f"{name} (lr={rate:g})"))
    return results
