"""A custom ``autograd.Function`` with a bug in one branch, checked two ways.

The Huber loss (δ = 3) below returns the wrong sign for the slope where x < −3.
``torch.autograd.gradcheck`` compares finite differences at the input it is
given, and a typical input never reaches that branch; the symbolic check
derives the gradient from ``forward``, reads ``backward`` as a formula, samples
both sides of every branch condition and names what is wrong.

    python -m examples.custom_function_check
"""
from __future__ import annotations

import torch

from torch.autograd.gradcheck import GradcheckError

from symbolic_torch.testing import check_gradients


class Huber(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * x * x - 0.5 * torch.relu(x.abs() - 3.0) ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        slope = torch.where(x > 3.0, 3.0, torch.where(x < -3.0, 3.0, x))  # bug: -3.0 below -3
        return grad_output * slope


def main() -> dict[str, str]:
    """What gradcheck says on a typical input and on one in the wrong branch, and what the symbolic check says."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    typical = torch.autograd.gradcheck(Huber.apply, (x,))
    try:
        torch.autograd.gradcheck(Huber.apply, (torch.tensor([-4.0, 1.0], dtype=torch.float64, requires_grad=True),))
        branch = "passed"
    except GradcheckError as e:
        branch = f"GradcheckError: {e}"
    return {"gradcheck": f"{typical}", "gradcheck_in_branch": branch, "symbolic": str(check_gradients(Huber, x))}


if __name__ == "__main__":
    for key, text in main().items():
        print(f"--- {key}\n{text}")
