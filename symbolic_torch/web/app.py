"""The local web app behind ``symbolic-torch serve``: the same view, elements computed on demand.

``create_app(derivation_or_factory)`` returns a Flask app (tests drive it with
``app.test_client()``). Routes (all GET; JSON unless noted):

* ``/`` the page (HTML); ``/api/view`` its data; ``/api/derivation`` ``Derivation.to_json()``
  (schema: docs/schema.md)
* ``/api/element?step=S&position=i,j,…`` and ``/api/gradient?step=S&name=N&position=i,j,…`` →
  ``{"latex", "value", "terms", …}``; ``/api/slice?step=S&tensor=forward|N&lead=i,j`` one heat-map grid
* ``/api/train?steps=N[&lr=…&optimizer=sgd|adam|adamw]`` N optimizer iterations
  (``symbolic_torch.train_steps``) from the current weights → ``{"losses": [...], "history": [...]}``

Every data route takes ``iteration=k`` (a training iteration; default: the first derivation).
A bad request gets a 4xx JSON ``{"error": …}`` naming what is valid; nothing crashes the server.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from symbolic_torch.errors import SymbolicTorchError
from symbolic_torch.web.elements import element_record, worked
from symbolic_torch.web.page import page_html
from symbolic_torch.web.payload import tensor_of, view_payload
from symbolic_torch.web.session import BadRequest, Session, parse_ints, parse_number
from symbolic_torch.web.tensors import grid_slice, parse_lead

if TYPE_CHECKING:
    import flask

    from symbolic_torch.ir.derivation import Derivation

__all__ = ["create_app"]


def create_app(source: "Derivation | Callable[[], Derivation]", title: str = "Derivation",
               verify_training: bool = True, max_values: int = 4096) -> "flask.Flask":
    """A Flask app serving ``source`` (a Derivation, or a function that makes one).

    Training (``/api/train``) needs a derivation of an ``nn.Module`` with a loss; it trains a
    copy of the model, so the derivation given stays as it was.

    >>> import torch, symbolic_torch as st
    >>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64))
    >>> client = create_app(d).test_client()
    >>> client.get("/api/element?step=linear&position=0,1").get_json()["terms"]
    4
    >>> client.get("/api/element?step=linear&position=0,9").status_code
    400
    """
    from flask import Flask, Response, jsonify, request
    from werkzeug.exceptions import HTTPException

    session = Session(source() if callable(source) else source, verify_training)
    lock = threading.Lock()  # one computation at a time: training moves the weights
    app = Flask("symbolic_torch.web")
    app.json.sort_keys = False  # type: ignore[attr-defined]

    def derivation() -> "Derivation":
        return session.derivation(request.args.get("iteration"))

    @app.errorhandler(BadRequest)
    def bad_request(e: BadRequest) -> Any:
        return jsonify(error=str(e)), e.status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        return jsonify(error=f"{e.name}: {e.description}"), e.code

    @app.errorhandler(SymbolicTorchError)
    def library_error(e: SymbolicTorchError) -> Any:  # e.g. an op training cannot derive
        return jsonify(error=f"{type(e).__name__}: {e}"), 422

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Any:  # still JSON, and the server keeps serving
        return jsonify(error=f"internal error: {type(e).__name__}: {e}"), 500

    @app.get("/")
    def page() -> Any:
        with lock:
            return Response(session.page(lambda d: page_html(d, 0, max_values, title, "server")),
                            mimetype="text/html")

    @app.get("/api/view")
    def view() -> Any:
        with lock:
            return jsonify(view_payload(derivation(), 0, max_values, title, "server"))

    @app.get("/api/derivation")
    def as_json() -> Any:
        with lock:
            return jsonify(session.to_json(derivation()))

    @app.get("/api/element")
    def element() -> Any:
        with lock:
            return jsonify(_element(derivation(), request.args, "forward"))

    @app.get("/api/gradient")
    def gradient() -> Any:
        name = request.args.get("name")
        if not name:
            raise BadRequest("missing parameter 'name' (the operand whose gradient to show)")
        with lock:
            return jsonify(_element(derivation(), request.args, name))

    @app.get("/api/slice")
    def slice_() -> Any:
        with lock:
            d = derivation()
            step = session.step(d, request.args.get("step"))
            kind = request.args.get("tensor", "forward")
            if kind != "forward" and kind not in step.gradients:
                raise BadRequest(f"step {step.name!r} has no tensor {kind!r}; it has "
                                 f"{['forward', *step.gradients]}", 404)
            _refuse_failed(step, kind)
            t = tensor_of(d, step, kind)
            if t is None:
                raise BadRequest(f"no adjoint reaches step {step.name!r}: its gradients have no values", 404)
            lead_shape = tuple(t.shape[:-2]) if t.dim() > 2 else ()
            lead = _checked(lambda: parse_lead(request.args.get("lead", ""), lead_shape))
            return jsonify(rows=grid_slice(t, lead), lead=list(lead))

    @app.get("/api/train")
    def train() -> Any:
        args = request.args
        steps = parse_number(args.get("steps", "1"), "steps", int, 1, session.MAX_TRAIN_STEPS)
        lr = parse_number(args.get("lr", "0.1"), "lr", float, 0.0, 10.0)
        optimizer = args.get("optimizer", "sgd")
        with lock:
            losses, verified = session.train(steps, lr, optimizer)
        return jsonify(losses=losses, verified=verified, history=session.history())

    def _element(d: "Derivation", args: Any, kind: str) -> dict[str, Any]:
        step = session.step(d, args.get("step"))
        if "position" not in args:
            raise BadRequest("missing parameter 'position' (comma-separated indices, e.g. 0,0,1,1)")
        pos = parse_ints(args["position"], "position")
        _refuse_failed(step, kind)
        return _checked(lambda: element_record(worked(d, step.name, kind, pos)))

    return app


def _refuse_failed(step: Any, kind: str) -> None:
    """A formula that failed verification is not served as if it were right (409)."""
    if kind in ("forward", *step.gradients) and step.status(kind) == "failed":
        raise BadRequest(f"step {step.name!r}: the {kind} formula FAILED verification against autograd; "
                         "it is not shown", 409)


def _checked(make: Callable[[], Any]) -> Any:
    """``make()``, its KeyError (an unknown name) a 404 and its IndexError or ValueError (a
    position or slice that does not fit) a 400, each with the library's message."""
    try:
        return make()
    except KeyError as e:
        raise BadRequest(str(e.args[0] if e.args else e), 404) from None
    except (IndexError, ValueError) as e:
        raise BadRequest(str(e), 400) from None
