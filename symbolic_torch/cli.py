"""Command line: ``symbolic-torch derive path/to/model.py:Name --input-shape 1,1,8,8 …``;
``symbolic-torch summary path/to/model.py:Name --input-shape 1,3,224,224 [--format markdown]``."""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import torch

from symbolic_torch.pipeline import derive
from symbolic_torch.errors import SymbolicTorchError

LOSSES = {
    "none": None,
    "cross_entropy": torch.nn.CrossEntropyLoss,
    "nll": torch.nn.NLLLoss,
    "mse": torch.nn.MSELoss,
    "bce_with_logits": torch.nn.BCEWithLogitsLoss,
}


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip() != "")
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from e


def load_model(spec: str) -> Any:
    """``file.py:Name`` (or ``package.module:Name``) → an nn.Module or a tensor function."""
    where, _, name = spec.rpartition(":")
    if not where or not name:
        raise SystemExit(f"model must be given as FILE.py:NAME or MODULE:NAME, got {spec!r}")
    if where.endswith(".py"):
        path = Path(where).resolve()
        if not path.exists():
            raise SystemExit(f"no such file: {where}")
        sys.path.insert(0, str(path.parent))
        mod_spec = importlib.util.spec_from_file_location(path.stem, path)
        assert mod_spec is not None and mod_spec.loader is not None
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    try:
        obj = getattr(module, name)
    except AttributeError:
        raise SystemExit(f"{where} has no {name!r}") from None
    if isinstance(obj, type) and issubclass(obj, torch.nn.Module):
        return obj()
    if isinstance(obj, torch.nn.Module):
        return obj
    if callable(obj) and not [p for p in inspect.signature(obj).parameters.values()
                              if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]:
        made = obj()
        if isinstance(made, torch.nn.Module):
            return made
    return obj


def _target(loss: str, text: str | None, out_shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor | None:
    if loss == "none":
        return None
    if loss in ("cross_entropy", "nll"):
        if text is None:
            raise SystemExit(f"--loss {loss} needs --target (class indices, e.g. --target 1)")
        return torch.tensor(_ints(text), dtype=torch.long)
    if text is None:
        return torch.randn(tuple(out_shape), dtype=dtype, generator=torch.Generator().manual_seed(1))
    return torch.tensor([float(v) for v in text.split(",")], dtype=dtype).reshape(tuple(out_shape))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="symbolic-torch", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("derive", help="derive, verify and render a model's mathematics")
    d.add_argument("model", help="FILE.py:NAME or MODULE:NAME (an nn.Module class/instance or a tensor function)")
    d.add_argument("--input-shape", type=_ints, action="append", required=True,
                   help="shape of one input, e.g. 1,1,8,8 (repeat for several inputs)")
    d.add_argument("--position", type=_ints, default=None, help="output element to work out, e.g. 0,0,4,4")
    d.add_argument("--step", default=None, help="step (node name or module path) for --position; default: the first")
    d.add_argument("--loss", choices=sorted(LOSSES), default="none")
    d.add_argument("--target", default=None, help="loss target: class indices or values, comma separated")
    d.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    d.add_argument("--seed", type=int, default=0, help="seed for inputs and parameters")
    d.add_argument("--out", default="paper_output", help="output folder (default: paper_output/)")
    d.add_argument("--name", default=None, help="file name stem (default: the model's name)")
    d.add_argument("--no-verify", action="store_true", help="skip the comparison with autograd")
    d.add_argument("--no-pdf", action="store_true", help="write the .tex only")
    sm = sub.add_parser("summary", help="parameters, MACs, FLOPs and memory per step (forward formulas only)")
    sm.add_argument("model", help="FILE.py:NAME or MODULE:NAME")
    sm.add_argument("--input-shape", type=_ints, action="append", required=True, help="shape of one input (repeatable)")
    sm.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    sm.add_argument("--format", choices=["text", "markdown", "latex", "html"], default="text")
    sm.add_argument("--seed", type=int, default=0)
    return p


def _model_and_inputs(args: argparse.Namespace) -> tuple[Any, list[torch.Tensor], torch.dtype]:
    """The model (in ``--dtype``, eval mode) and seeded random inputs of the ``--input-shape``s."""
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(args.seed)
    model = load_model(args.model)
    if isinstance(model, torch.nn.Module):
        model = model.to(dtype).eval()
    return model, [torch.randn(s, dtype=dtype) for s in args.input_shape], dtype


def run_summary(args: argparse.Namespace) -> int:
    """Print ``symbolic_torch.summary`` of the model on random inputs of the given shapes."""
    from symbolic_torch.analysis.summary import summary
    model, inputs, _ = _model_and_inputs(args)
    print(summary(model, *inputs).table(args.format))
    return 0


def run_derive(args: argparse.Namespace) -> int:
    model, inputs, dtype = _model_and_inputs(args)
    with torch.no_grad():
        out_shape = tuple(model(*inputs).shape)
    loss_cls = LOSSES[args.loss]
    d = derive(model, *inputs, loss=loss_cls() if loss_cls else None,
               target=_target(args.loss, args.target, out_shape, dtype), verify=not args.no_verify)
    for s in d.steps:
        print(f"{s.index + 1:>3}  {s.name:<24} {s.op:<18} {s.forward}")
    if d.report is not None:
        print(d.report)
    step = d[args.step] if args.step else d.steps[0]
    positions = {step.name: args.position} if args.position is not None else {}
    if args.position is not None:
        e = step.at(args.position)
        print(f"{step.name}{list(e.position)} = {e.value:.6g}  ({e.terms} terms)")
        print(e.latex)
    stem = args.name or re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", args.model.rpartition(":")[2]).lower()
    out = Path(args.out) / f"{stem}.pdf"
    written = d.to_pdf(out, positions=positions, compile=not args.no_pdf)
    print(f"wrote {out.with_suffix('.tex')}" + ("" if args.no_pdf else f" and {written}"))
    return 0 if d.report is None or d.report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``symbolic-torch`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return {"derive": run_derive, "summary": run_summary}[args.command](args)
    except SymbolicTorchError as e:
        print(f"symbolic-torch: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
