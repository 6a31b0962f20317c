"""Golden LaTeX of the update formulas (exact strings), and of one worked element."""
from __future__ import annotations

import torch

from symbolic_torch.ir import symbols as S
from symbolic_torch.training import formulas as F
from symbolic_torch.training.latex import latex
from symbolic_torch.training.update import apply

IJ = S.indices("ij")
GRAD = r"\frac{\partial L}{\partial \theta^{(t-1)}_{i,j}}"


def _latex(kind: str, hyper: dict, t: int) -> list[str]:
    return [latex(e) for e in F.formulas(kind, hyper, t, IJ)]


def test_sgd_plain() -> None:
    assert _latex("sgd", {"lr": 0.1}, 1) == [rf"\theta^{{(t)}}_{{i,j}} = \theta^{{(t-1)}}_{{i,j}} - \gamma {GRAD}"]


def test_sgd_momentum_first_step_fills_the_buffer_undamped() -> None:
    h = {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}
    assert _latex("sgd", h, 1) == [rf"b^{{(t)}}_{{i,j}} = {GRAD}",
                                   r"\theta^{(t)}_{i,j} = \theta^{(t-1)}_{i,j} - \gamma b^{(t)}_{i,j}"]
    assert _latex("sgd", h, 2)[0] == rf"b^{{(t)}}_{{i,j}} = \mu b^{{(t-1)}}_{{i,j}} + \left(1 - \tau\right) {GRAD}"


def test_sgd_nesterov_with_weight_decay() -> None:
    h = {"lr": 0.1, "momentum": 0.9, "dampening": 0, "nesterov": True, "weight_decay": 0.01}
    assert _latex("sgd", h, 2) == [
        rf"g^{{(t)}}_{{i,j}} = {GRAD} + \lambda \theta^{{(t-1)}}_{{i,j}}",
        r"b^{(t)}_{i,j} = \mu b^{(t-1)}_{i,j} + \left(1 - \tau\right) g^{(t)}_{i,j}",
        r"\theta^{(t)}_{i,j} = \theta^{(t-1)}_{i,j} - \gamma \left(g^{(t)}_{i,j} + \mu b^{(t)}_{i,j}\right)"]


def test_sgd_maximize_negates_the_gradient() -> None:
    assert _latex("sgd", {"lr": 0.1, "maximize": True}, 1)[0] == rf"g^{{(t)}}_{{i,j}} = - {GRAD}"


def test_adam_bias_corrections_and_eps_after_the_corrected_root() -> None:
    assert _latex("adam", {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0}, 1) == [
        rf"m^{{(t)}}_{{i,j}} = \beta_{{1}} m^{{(t-1)}}_{{i,j}} + \left(1 - \beta_{{1}}\right) {GRAD}",
        rf"v^{{(t)}}_{{i,j}} = \beta_{{2}} v^{{(t-1)}}_{{i,j}} + \left(1 - \beta_{{2}}\right) \left({GRAD}\right)^{{2}}",
        r"\theta^{(t)}_{i,j} = \theta^{(t-1)}_{i,j} - \frac{\gamma}{1 - \beta_{1}^{t}} \frac{m^{(t)}_{i,j}}"
        r"{\frac{\sqrt{v^{(t)}_{i,j}}}{\sqrt{1 - \beta_{2}^{t}}} + \epsilon}"]


def test_adamw_decoupled_decay_and_amsgrad() -> None:
    eqs = _latex("adamw", {"lr": 0.1, "weight_decay": 0.01, "amsgrad": True}, 3)
    assert eqs[2] == r"\hat{v}^{(t)}_{i,j} = \max\left(v^{(t)}_{i,j}, \hat{v}^{(t-1)}_{i,j}\right)"
    assert eqs[3] == (r"\theta^{(t)}_{i,j} = \left(1 - \lambda \gamma\right) \theta^{(t-1)}_{i,j} - "
                      r"\frac{\gamma}{1 - \beta_{1}^{t}} \frac{m^{(t)}_{i,j}}{\frac{\sqrt{\hat{v}^{(t)}_{i,j}}}"
                      r"{\sqrt{1 - \beta_{2}^{t}}} + \epsilon}")


def test_worked_element_reads_in_the_formulas_order() -> None:
    w = torch.tensor([[0.5, -0.25]], dtype=torch.float64)
    g = torch.tensor([[0.125, 2.0]], dtype=torch.float64)
    u = apply("fc.weight", "sgd", {"lr": 0.5, "momentum": 0.9, "dampening": 0.0}, 2, w, g,
              {"momentum_buffer": torch.tensor([[1.0, -1.0]], dtype=torch.float64)}, (0, 1))
    b, theta = u.worked()
    assert b.latex == (r"b^{(t)}_{0,1} = \mu b^{(t-1)}_{0,1} + \left(1 - \tau\right) "
                       r"\frac{\partial L}{\partial \theta^{(t-1)}_{0,1}} = 0.9 \times (-1) + \left(1 - 0\right) "
                       r"\times 2 = 1.1")
    assert theta.latex == (r"\theta^{(t)}_{0,1} = \theta^{(t-1)}_{0,1} - \gamma b^{(t)}_{0,1} = "
                           r"(-0.25) - 0.5 \times 1.1 = -0.8")
    assert torch.allclose(u.after, torch.tensor([[0.5 - 0.5 * (0.9 + 0.125), -0.8]], dtype=torch.float64))
