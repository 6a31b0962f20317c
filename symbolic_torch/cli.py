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
    _model_arguments(d)
    d.add_argument("--position", type=_ints, default=None, help="output element to work out, e.g. 0,0,4,4")
    d.add_argument("--step", default=None, help="step (node name or module path) for --position; default: the first")
    d.add_argument("--out", default="paper_output", help="output folder (default: paper_output/)")
    d.add_argument("--name", default=None, help="file name stem (default: the model's name)")
    d.add_argument("--no-verify", action="store_true", help="skip the comparison with autograd")
    d.add_argument("--no-pdf", action="store_true", help="write the .tex only")
    t = d.add_argument_group("training walkthrough (writes NAME_train.pdf instead of the handout)")
    t.add_argument("--train-steps", type=int, default=0, metavar="N", help="run N optimizer iterations")
    t.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default="sgd")
    t.add_argument("--lr", type=float, default=None, help="learning rate (default: torch's)")
    t.add_argument("--momentum", type=float, default=None, help="SGD momentum (default 0)")
    d.add_argument("--save", action="store_true", help="also save the derivation as NAME.zip (docs/format.md)")
    d.add_argument("--json", action="store_true", help="also write the graph as NAME.json (docs/schema.md)")
    d.add_argument("--svg", action="store_true", help="also draw the graph as NAME.svg (Graphviz)")
    w = sub.add_parser("serve", help="serve the derivation as a local web app (elements on demand, training)")
    _model_arguments(w)
    w.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    w.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    w.add_argument("--no-verify", action="store_true", help="skip the comparison with autograd")
    sm = sub.add_parser("summary", help="parameters, MACs, FLOPs and memory per step (forward formulas only)")
    sm.add_argument("model", help="FILE.py:NAME or MODULE:NAME")
    sm.add_argument("--input-shape", type=_ints, action="append", required=True, help="shape of one input (repeatable)")
    sm.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    sm.add_argument("--format", choices=["text", "markdown", "latex", "html"], default="text")
    sm.add_argument("--seed", type=int, default=0)
    return p


def _write_exports(d: Any, args: argparse.Namespace, stem: str) -> None:
    """The files --save, --json and --svg ask for, beside the handout."""
    import json
    out = Path(args.out)
    if args.save:
        print(f"wrote {d.save(out / f'{stem}.zip')}")
    if args.json:
        path = out / f"{stem}.json"
        path.write_text(json.dumps(d.to_json(), indent=1, ensure_ascii=False, allow_nan=False), encoding="utf-8")
        print(f"wrote {path}")
    if args.svg:
        print(f"wrote {d.to_svg(out / f'{stem}.svg')}")


def _model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="FILE.py:NAME or MODULE:NAME (an nn.Module class/instance or a tensor function)")
    p.add_argument("--input-shape", type=_ints, action="append", required=True,
                   help="shape of one input, e.g. 1,1,8,8 (repeat for several inputs)")
    p.add_argument("--loss", choices=sorted(LOSSES), default="none")
    p.add_argument("--target", default=None, help="loss target: class indices or values, comma separated")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--seed", type=int, default=0, help="seed for inputs and parameters")


def run_serve(args: argparse.Namespace) -> int:
    """``symbolic-torch serve``: derive once, then serve the view until interrupted."""
    from symbolic_torch.web.app import create_app
    d = _derive_args(args)
    app = create_app(d, title=f"Derivation: {args.model.rpartition(':')[2]}")
    print(f"serving {args.model} ({len(d.steps)} steps) on http://{args.host}:{args.port}/", flush=True)
    app.run(host=args.host, port=args.port, threaded=True)
    return 0


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


def _prepare(args: argparse.Namespace) -> tuple[Any, list[torch.Tensor], Any, Any]:
    """The model, random inputs, loss and target that ``derive`` and ``serve`` are asked for."""
    model, inputs, dtype = _model_and_inputs(args)
    with torch.no_grad():
        out_shape = tuple(model(*inputs).shape)
    loss_cls = LOSSES[args.loss]
    loss = loss_cls() if loss_cls else None
    return model, inputs, loss, _target(args.loss, args.target, out_shape, dtype)


def _derive_args(args: argparse.Namespace) -> Any:
    """The derivation ``derive`` and ``serve`` are asked for."""
    model, inputs, loss, target = _prepare(args)
    return derive(model, *inputs, loss=loss, target=target, verify=not args.no_verify)


def run_derive(args: argparse.Namespace) -> int:
    if args.train_steps:
        return run_train(args, *_prepare(args))
    d = _derive_args(args)
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
    stem = _stem(args)
    out = Path(args.out) / f"{stem}.pdf"
    written = d.to_pdf(out, positions=positions, compile=not args.no_pdf)
    print(f"wrote {out.with_suffix('.tex')}" + ("" if args.no_pdf else f" and {written}"))
    _write_exports(d, args, stem)
    return 0 if d.report is None or d.report.ok else 1


def _stem(args: argparse.Namespace) -> str:
    return args.name or re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", args.model.rpartition(":")[2]).lower()


def run_train(args: argparse.Namespace, model: Any, inputs: list[torch.Tensor], loss: Any, target: Any) -> int:
    """``--train-steps N``: the walkthrough of N iterations, written to ``--out/NAME_train.pdf``."""
    from symbolic_torch.training import train_steps
    if loss is None:
        raise SystemExit("--train-steps needs a loss (--loss cross_entropy|nll|mse|bce_with_logits)")
    hyper = {k: v for k, v in (("lr", args.lr), ("momentum", args.momentum)) if v is not None}
    try:
        w = train_steps(model, *inputs, target=target, loss=loss, optimizer=args.optimizer,
                        steps=args.train_steps, verify=not args.no_verify, seed=args.seed, **hyper)
    except (TypeError, ValueError) as e:
        raise SystemExit(f"symbolic-torch: {e}") from None
    for t, value in enumerate(w.losses, 1):
        print(f"iteration {t}: loss {value:.10g}")
    if w.report is not None:
        print(w.report)
    out = Path(args.out) / f"{_stem(args)}_train.pdf"
    written = w.to_pdf(out, compile=not args.no_pdf)
    print(f"wrote {out.with_suffix('.tex')}" + ("" if args.no_pdf else f" and {written}"))
    return 0 if w.report is None or w.report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``symbolic-torch`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return {"derive": run_derive, "serve": run_serve, "summary": run_summary}[args.command](args)
    except SymbolicTorchError as e:
        print(f"symbolic-torch: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
