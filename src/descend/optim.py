r"""Update rules with PyTorch's equations and defaults.

Each optimizer is a small state machine with explicit state:

- ``init(w) -> OptState``: the step count t = 0 and a (k, n) array of buffers;
- ``step(w, g, state) -> lr``: one update of ``w`` in place; returns the learning rate used.

The learning rate is a float or a schedule (step -> lr); :func:`descend.schedules.as_schedule`
decides that once, at construction, and :meth:`Optimizer.step` is the one place it is read
(multiplied by ``state.lr_scale``, which a plateau monitor may lower).

Every update rule is a module-level function with one signature,
``rule(w, g, lr, t, state, hp)``: ``w`` updated in place, ``g`` the gradient (not modified),
``lr`` the learning rate of this step, ``t`` the 1-based step number, ``state`` the (k, n)
buffers updated in place and ``hp`` the float64 vector of hyper-parameters. Each rule computes
its per-step scalars, then updates the elements in a ``for i in lanes(w)`` loop: with NumPy
that loop runs once over whole arrays; the compiled kernels (:mod:`descend.kernels`) run the
very same functions one element at a time without temporaries. There is one copy of each rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ParameterError, check_number
from .schedules import as_schedule

__all__ = ["OptState", "Optimizer", "SGD", "Adam", "AdamW", "NAdam", "RMSprop", "Adagrad", "Adadelta",
           "from_name", "from_options", "resolve", "hyper_parameters", "NAMES", "ALIASES", "CHOICES", "lanes"]


@dataclass
class OptState:
    """Everything an optimizer carries between steps: the step count, its buffers, a lr multiplier."""

    step: int
    buffers: np.ndarray
    lr_scale: float = 1.0

    def copy(self) -> "OptState":
        return OptState(self.step, self.buffers.copy(), self.lr_scale)

    def to_dict(self) -> dict:
        """Plain data (ints, floats, lists) that json/np.savez can store; ``from_dict`` restores it exactly."""
        return {"step": int(self.step), "buffers": self.buffers.tolist(), "lr_scale": float(self.lr_scale),
                "shape": list(self.buffers.shape)}

    @classmethod
    def from_dict(cls, d: dict) -> "OptState":
        buffers = np.array(d["buffers"], dtype=np.float64).reshape(d["shape"])
        return cls(int(d["step"]), buffers, float(d.get("lr_scale", 1.0)))


def _lerp(a, b, weight):
    """a + weight (b - a), evaluated as torch.lerp does (the form depends on weight < 0.5)."""
    if weight < 0.5:
        return a + weight * (b - a)
    return b - (b - a) * (1.0 - weight)


def lanes(w):
    """The index sets an update rule walks: here one slice over all of ``w``.

    With NumPy the body of ``for i in lanes(w)`` runs once, on whole arrays. The compiled
    kernels (:mod:`descend.kernels`) give ``lanes`` the meaning ``range(w.size)``, so the very
    same body runs one element at a time, without temporary arrays. Either way the arithmetic
    of each element is the same, in the same order.
    """
    return (slice(None),)


# ---------------------------------------------------------------------------------------------
# The update rules: rule(w, g, lr, t, state, hp), all in place on w and state. Per-step scalars
# come first; the loop over lanes(w) is the element-wise update.


def sgd_rule(w, g, lr, t, state, hp):
    r"""SGD with PyTorch's momentum convention.

    .. math::
        g &\leftarrow g + \lambda w \\
        b_t &= \mu b_{t-1} + (1 - \tau) g \quad (b_1 = g) \\
        g &\leftarrow g + \mu b_t \ \text{(Nesterov)}\quad\text{or}\quad g \leftarrow b_t \\
        w &\leftarrow w - \gamma g

    hp = (momentum μ, dampening τ, nesterov, weight_decay λ); state[0] = b.
    """
    momentum, dampening, nesterov, weight_decay = hp[0], hp[1], hp[2], hp[3]
    if momentum == 0.0 and weight_decay == 0.0:  # plain SGD, w <- w - lr g: a branch-free loop
        for i in lanes(w):
            w[i] -= lr * g[i]
        return
    buf = 0  # the row of state holding b
    for i in lanes(w):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * w[i]
        if momentum != 0.0:
            if t == 1:
                state[buf, i] = gi
            else:
                state[buf, i] = momentum * state[buf, i] + (1.0 - dampening) * gi
            if nesterov != 0.0:
                gi = gi + momentum * state[buf, i]
            else:
                gi = state[buf, i]
        w[i] -= lr * gi


def adam_rule(w, g, lr, t, state, hp):
    r"""Adam, and AdamW when ``decoupled`` is set (PyTorch's equations).

    .. math::
        &\text{Adam: } g \leftarrow g + \lambda w \qquad \text{AdamW: } w \leftarrow w - \gamma\lambda w \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g \qquad v_t = \beta_2 v_{t-1} + (1 - \beta_2) g^2 \\
        \hat v &= \max(\hat v_{t-1}, v_t)\ \text{(amsgrad)}\ \text{else}\ v_t \\
        w &\leftarrow w - \frac{\gamma}{1 - \beta_1^t}\,
              \frac{m_t}{\sqrt{\hat v}/\sqrt{1 - \beta_2^t} + \epsilon}

    hp = (β1, β2, ε, λ, amsgrad, decoupled); state = (m, v, v̂max).
    """
    b1, b2, eps, weight_decay, amsgrad, decoupled = hp[0], hp[1], hp[2], hp[3], hp[4], hp[5]
    m, v, vmax = 0, 1, 2  # rows of state
    bias_correction1 = 1.0 - b1**t
    bias_correction2_sqrt = math.sqrt(1.0 - b2**t)
    step_size = lr / bias_correction1
    for i in lanes(w):
        gi = g[i]
        if weight_decay != 0.0:
            if decoupled != 0.0:
                w[i] *= 1.0 - lr * weight_decay
            else:
                gi = gi + weight_decay * w[i]
        state[m, i] = _lerp(state[m, i], gi, 1.0 - b1)
        state[v, i] = b2 * state[v, i] + (1.0 - b2) * (gi * gi)
        if amsgrad != 0.0:
            state[vmax, i] = np.maximum(state[vmax, i], state[v, i])
            denom = np.sqrt(state[vmax, i]) / bias_correction2_sqrt + eps
        else:
            denom = np.sqrt(state[v, i]) / bias_correction2_sqrt + eps
        w[i] -= step_size * (state[m, i] / denom)


def nadam_rule(w, g, lr, t, state, hp):
    r"""NAdam with PyTorch's momentum schedule.

    .. math::
        \mu_t &= \beta_1 (1 - \tfrac12 0.96^{t\psi}) \qquad \Pi_t = \prod_{i \le t} \mu_i \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g \qquad v_t = \beta_2 v_{t-1} + (1 - \beta_2) g^2 \\
        d &= \sqrt{v_t / (1 - \beta_2^t)} + \epsilon \\
        w &\leftarrow w - \gamma \frac{1 - \mu_t}{1 - \Pi_t} \frac{g}{d}
              - \gamma \frac{\mu_{t+1}}{1 - \Pi_t \mu_{t+1}} \frac{m_t}{d}

    hp = (β1, β2, ε, λ, ψ momentum_decay, decoupled); state = (m, v, [Π_t, 0, ...]).
    """
    b1, b2, eps, weight_decay, momentum_decay, decoupled = hp[0], hp[1], hp[2], hp[3], hp[4], hp[5]
    m, v = 0, 1  # rows of state
    bias_correction2 = 1.0 - b2**t
    mu = b1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    if t == 1:
        state[2, 0] = 1.0
    mu_product = state[2, 0] * mu
    state[2, 0] = mu_product
    mu_product_next = mu_product * mu_next
    step_g = -lr * (1.0 - mu) / (1.0 - mu_product)
    step_m = (-lr * mu_next) / (1.0 - mu_product_next)
    for i in lanes(w):
        gi = g[i]
        if weight_decay != 0.0:
            if decoupled != 0.0:
                w[i] *= 1.0 - lr * weight_decay
            else:
                gi = gi + weight_decay * w[i]
        state[m, i] = _lerp(state[m, i], gi, 1.0 - b1)
        state[v, i] = b2 * state[v, i] + (1.0 - b2) * (gi * gi)
        denom = np.sqrt(state[v, i] / bias_correction2) + eps
        w[i] += step_g * (gi / denom)
        w[i] += step_m * (state[m, i] / denom)


def rmsprop_rule(w, g, lr, t, state, hp):
    r"""RMSprop (PyTorch's), optionally centered and with momentum.

    .. math::
        g &\leftarrow g + \lambda w \qquad v_t = \alpha v_{t-1} + (1 - \alpha) g^2 \\
        \bar g_t &= \alpha \bar g_{t-1} + (1 - \alpha) g,\quad
            \tilde v = v_t - \bar g_t^2 \ \text{(centered)}\ \text{else}\ v_t \\
        b_t &= \mu b_{t-1} + g / (\sqrt{\tilde v} + \epsilon),\quad w \leftarrow w - \gamma b_t
            \quad\text{(momentum > 0; else } w \leftarrow w - \gamma g / (\sqrt{\tilde v} + \epsilon))

    hp = (α, ε, λ, μ, centered); state = (v, ḡ, b).
    """
    alpha, eps, weight_decay, momentum, centered = hp[0], hp[1], hp[2], hp[3], hp[4]
    square_avg, grad_avg, buf = 0, 1, 2  # rows of state
    for i in lanes(w):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * w[i]
        state[square_avg, i] = alpha * state[square_avg, i] + (1.0 - alpha) * (gi * gi)
        if centered != 0.0:
            state[grad_avg, i] = _lerp(state[grad_avg, i], gi, 1.0 - alpha)
            avg = np.sqrt(state[square_avg, i] - state[grad_avg, i] * state[grad_avg, i]) + eps
        else:
            avg = np.sqrt(state[square_avg, i]) + eps
        if momentum > 0.0:
            state[buf, i] = momentum * state[buf, i] + gi / avg
            w[i] -= lr * state[buf, i]
        else:
            w[i] -= lr * (gi / avg)


def adagrad_rule(w, g, lr, t, state, hp):
    r"""Adagrad (PyTorch's).

    .. math::
        g \leftarrow g + \lambda w,\quad \tilde\gamma = \frac{\gamma}{1 + (t - 1)\eta},\quad
        s_t = s_{t-1} + g^2,\quad w \leftarrow w - \tilde\gamma \frac{g}{\sqrt{s_t} + \epsilon}

    hp = (η lr_decay, λ, ε); state = (s,), started at initial_accumulator_value.
    """
    lr_decay, weight_decay, eps = hp[0], hp[1], hp[2]
    state_sum = 0  # the row of state
    clr = lr / (1.0 + (t - 1) * lr_decay)
    for i in lanes(w):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * w[i]
        state[state_sum, i] += gi * gi
        w[i] -= clr * (gi / (np.sqrt(state[state_sum, i]) + eps))


def adadelta_rule(w, g, lr, t, state, hp):
    r"""Adadelta (PyTorch's).

    .. math::
        g \leftarrow g + \lambda w,\quad v_t = \rho v_{t-1} + (1 - \rho) g^2,\quad
        \Delta = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}} g,\quad
        u_t = \rho u_{t-1} + (1 - \rho)\Delta^2,\quad w \leftarrow w - \gamma\Delta

    hp = (ρ, ε, λ); state = (v, u).
    """
    rho, eps, weight_decay = hp[0], hp[1], hp[2]
    square_avg, acc_delta = 0, 1  # rows of state
    for i in lanes(w):
        gi = g[i]
        if weight_decay != 0.0:
            gi = gi + weight_decay * w[i]
        state[square_avg, i] = rho * state[square_avg, i] + (1.0 - rho) * (gi * gi)
        delta = np.sqrt(state[acc_delta, i] + eps) / np.sqrt(state[square_avg, i] + eps) * gi
        state[acc_delta, i] = rho * state[acc_delta, i] + (1.0 - rho) * (delta * delta)
        w[i] -= lr * delta


# ---------------------------------------------------------------------------------------------
# The optimizers: validated hyper-parameters + which rule + how many buffers.


def _number(name, value, lo=0.0, hi=math.inf, lo_open=False, hi_open=True):
    return float(check_number(name, value, lo, hi, lo_open=lo_open, hi_open=hi_open))


def _betas(owner, betas):
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise ParameterError(f"{owner}: betas must be a pair (beta1, beta2); got {betas!r}.")
    return (_number(f"{owner}: betas[0]", betas[0], 0.0, 1.0), _number(f"{owner}: betas[1]", betas[1], 0.0, 1.0))


class Optimizer:
    """Base class: a learning rate or schedule, a rule, its hyper-parameters ``hp`` and ``n_buffers``."""

    rule = None
    n_buffers = 0
    name = "optimizer"

    def __init__(self, lr):
        self.lr = lr
        self.schedule = as_schedule(lr)
        self.hp = np.zeros(0)

    def init(self, w) -> OptState:
        """Fresh state for parameters shaped like ``w``: step 0 and zeroed buffers."""
        return OptState(0, np.zeros((self.n_buffers, np.size(w))))

    def lr_at(self, state: OptState) -> float:
        """The learning rate the next step will use."""
        return float(self.schedule(state.step)) * state.lr_scale

    def step(self, w, g, state: OptState) -> float:
        """Update ``w`` in place by one step on gradient ``g``; return the learning rate used."""
        lr = self.lr_at(state)
        state.step += 1
        type(self).rule(w, g, lr, state.step, state.buffers, self.hp)
        return lr

    def params(self) -> dict:
        return {"lr": self.lr}

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.params().items()) + ")"


class SGD(Optimizer):
    __doc__ = sgd_rule.__doc__
    rule = staticmethod(sgd_rule)
    n_buffers = 1
    name = "sgd"

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr)
        self.momentum = _number("SGD: momentum", momentum)
        self.dampening = _number("SGD: dampening", dampening, 0.0, 1.0, hi_open=False)
        self.nesterov = bool(nesterov)
        self.weight_decay = _number("SGD: weight_decay", weight_decay)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ParameterError("SGD: nesterov=True needs momentum > 0 and dampening = 0.")
        self.hp = np.array([self.momentum, self.dampening, float(self.nesterov), self.weight_decay])

    def params(self):
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}


class Adam(Optimizer):
    __doc__ = adam_rule.__doc__
    rule = staticmethod(adam_rule)
    n_buffers = 3
    name = "adam"
    _decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(lr)
        owner = type(self).__name__
        self.betas = _betas(owner, betas)
        self.eps = _number(f"{owner}: eps", eps)
        self.weight_decay = _number(f"{owner}: weight_decay", weight_decay)
        self.amsgrad = bool(amsgrad)
        self.hp = np.array([*self.betas, self.eps, self.weight_decay, float(self.amsgrad), float(self._decoupled)])

    def params(self):
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    __doc__ = adam_rule.__doc__
    name = "adamw"
    _decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


class NAdam(Optimizer):
    __doc__ = nadam_rule.__doc__
    rule = staticmethod(nadam_rule)
    n_buffers = 3
    name = "nadam"

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False):
        super().__init__(lr)
        self.betas = _betas("NAdam", betas)
        self.eps = _number("NAdam: eps", eps)
        self.weight_decay = _number("NAdam: weight_decay", weight_decay)
        self.momentum_decay = _number("NAdam: momentum_decay", momentum_decay)
        self.decoupled_weight_decay = bool(decoupled_weight_decay)
        self.hp = np.array([*self.betas, self.eps, self.weight_decay, self.momentum_decay,
                            float(self.decoupled_weight_decay)])

    def params(self):
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay,
                "momentum_decay": self.momentum_decay, "decoupled_weight_decay": self.decoupled_weight_decay}


class RMSprop(Optimizer):
    __doc__ = rmsprop_rule.__doc__
    rule = staticmethod(rmsprop_rule)
    n_buffers = 3
    name = "rmsprop"

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(lr)
        self.alpha = _number("RMSprop: alpha", alpha, 0.0, 1.0, hi_open=False)
        self.eps = _number("RMSprop: eps", eps)
        self.weight_decay = _number("RMSprop: weight_decay", weight_decay)
        self.momentum = _number("RMSprop: momentum", momentum)
        self.centered = bool(centered)
        self.hp = np.array([self.alpha, self.eps, self.weight_decay, self.momentum, float(self.centered)])

    def params(self):
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps, "weight_decay": self.weight_decay,
                "momentum": self.momentum, "centered": self.centered}


class Adagrad(Optimizer):
    __doc__ = adagrad_rule.__doc__
    rule = staticmethod(adagrad_rule)
    n_buffers = 1
    name = "adagrad"

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(lr)
        self.lr_decay = _number("Adagrad: lr_decay", lr_decay)
        self.weight_decay = _number("Adagrad: weight_decay", weight_decay)
        self.initial_accumulator_value = _number("Adagrad: initial_accumulator_value", initial_accumulator_value)
        self.eps = _number("Adagrad: eps", eps)
        self.hp = np.array([self.lr_decay, self.weight_decay, self.eps])

    def init(self, w):
        return OptState(0, np.full((1, np.size(w)), self.initial_accumulator_value))

    def params(self):
        return {"lr": self.lr, "lr_decay": self.lr_decay, "weight_decay": self.weight_decay,
                "initial_accumulator_value": self.initial_accumulator_value, "eps": self.eps}


class Adadelta(Optimizer):
    __doc__ = adadelta_rule.__doc__
    rule = staticmethod(adadelta_rule)
    n_buffers = 2
    name = "adadelta"

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(lr)
        self.rho = _number("Adadelta: rho", rho, 0.0, 1.0, hi_open=False)
        self.eps = _number("Adadelta: eps", eps)
        self.weight_decay = _number("Adadelta: weight_decay", weight_decay)
        self.hp = np.array([self.rho, self.eps, self.weight_decay])

    def params(self):
        return {"lr": self.lr, "rho": self.rho, "eps": self.eps, "weight_decay": self.weight_decay}


# The one list of optimizers: add a class above and its name here; the command line (its
# --optimizer choices and one option per hyper-parameter), the estimators and compare read it.
NAMES = {
    "sgd": SGD, "adam": Adam, "adamw": AdamW, "nadam": NAdam, "rmsprop": RMSprop,
    "adagrad": Adagrad, "adadelta": Adadelta,
}
# Names for a class with some hyper-parameters preset (given ones win).
ALIASES = {"momentum": ("sgd", {"momentum": 0.9}), "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True})}
CHOICES = (*NAMES, *ALIASES)  # every name from_name accepts


def resolve(name: str):
    """(class, preset hyper-parameters) of an optimizer name, or a ParameterError listing the names."""
    key = str(name).strip().lower()
    if key in ALIASES:
        base, preset = ALIASES[key]
        return NAMES[base], dict(preset)
    if key not in NAMES:
        raise ParameterError(f"unknown optimizer {name!r}; choose one of {', '.join(CHOICES)}.")
    return NAMES[key], {}


def hyper_parameters() -> dict:
    """Every constructor argument of the optimizers but ``lr``: name -> (default of the first class
    that has it, the optimizer names taking it), in the order first met. The command line makes
    one option of each (``betas`` becomes --beta1 and --beta2)."""
    import inspect

    out: dict = {}
    for key, cls in NAMES.items():
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
            if p.name == "lr":
                continue
            default, names = out.get(p.name, (p.default, []))
            out[p.name] = (default, [*names, key])
    return out


def from_name(name: str, **params) -> Optimizer:
    """An optimizer by name: the class names in lower case (``NAMES``), plus ``momentum`` (SGD,
    momentum 0.9) and ``nesterov`` (SGD, Nesterov momentum 0.9) unless ``momentum`` is given."""
    cls, preset = resolve(name)
    try:
        return cls(**{**preset, **params})
    except TypeError:  # an argument the class does not take
        import inspect

        accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        extra = sorted(set(params) - set(accepted))
        if not extra:
            raise
        raise ParameterError(f"the {str(name).lower()} optimizer has no {', '.join(extra)}; its options are "
                             f"{', '.join(accepted)}.") from None


def from_options(name: str, lr, *, beta1=None, beta2=None, **params) -> Optimizer:
    """An optimizer by name from the command line's generic options; None means "not given".

    ``beta1``/``beta2`` make ``betas`` (the other one at its default); an option the optimizer
    does not have (``momentum`` for Adam, ``beta1`` for SGD, ...) is a ParameterError naming both.
    Other keyword arguments go to the constructor as they are.
    """
    import inspect

    key = str(name).strip().lower()
    cls, preset = resolve(name)
    accepted = inspect.signature(cls.__init__).parameters
    given = {k: v for k, v in params.items() if v is not None}
    if beta1 is not None or beta2 is not None:
        if "betas" not in accepted:
            takes = [n for n, c in NAMES.items() if "betas" in inspect.signature(c.__init__).parameters]
            raise ParameterError(f"the {key} optimizer has no betas (beta1, beta2); they apply to {', '.join(takes)}.")
        default = accepted["betas"].default
        given["betas"] = (default[0] if beta1 is None else beta1, default[1] if beta2 is None else beta2)
    for k in given:
        if k not in accepted:
            raise ParameterError(f"the {key} optimizer has no {k}; its options are "
                                 f"{', '.join(p for p in accepted if p not in ('self', 'lr'))}.")
    if key in ALIASES and "momentum" in given and given["momentum"] == 0:
        raise ParameterError(f"the {key} optimizer needs momentum > 0; got 0 (use sgd for none).")
    return cls(lr=lr, **{**preset, **given})
