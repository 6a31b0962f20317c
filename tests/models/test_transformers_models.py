"""Hugging Face transformers models, tiny configs built in code (no downloads), float64, with a loss.

Each model is derived once per module (``_derived``): the tests then ask that every formula
verifies against autograd and that ``gradient_values()`` is ``torch.autograd.grad`` of the same
cross-entropy loss, for the input embeddings and a handful of parameters.

GPT-2 and Llama are not traceable by torch.fx: they are captured by torch.export, whose graphs
hold ATen-only ops (``aten.alias``, rules/aten.py). Llama, T5 and ViT compute some steps in
float32 inside the float64 model (RMSNorm / T5LayerNorm upcast, softmax in float32): their
verification waits for precision-aware verification, and their gradients agree with autograd
at float32's tolerance, which is all autograd's own reference is good for there.
"""
from __future__ import annotations

import functools
import time
from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st
from symbolic_torch.numeric.tolerances import for_dtype

from model_check import Case

transformers = pytest.importorskip("transformers")

VOCAB = 50
SMALL = dict(attn_implementation="eager")


def _gpt2() -> nn.Module:
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=16, n_embd=16, n_layer=2, n_head=2, resid_pdrop=0.0,
        embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0, **SMALL))


def _llama() -> nn.Module:
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=16, bos_token_id=0, eos_token_id=0, pad_token_id=0,
        **SMALL))


def _bert() -> nn.Module:
    return transformers.BertForMaskedLM(transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=0,
        **SMALL))


def _bart() -> nn.Module:
    return transformers.BartForConditionalGeneration(transformers.BartConfig(
        vocab_size=VOCAB, d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=16,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, decoder_start_token_id=2, **SMALL))


def _t5() -> nn.Module:
    return transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=VOCAB, d_model=16, d_kv=8, d_ff=32, num_layers=2, num_decoder_layers=2, num_heads=2,
        dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1, **SMALL))


def _vit() -> nn.Module:
    return transformers.ViTForImageClassification(transformers.ViTConfig(
        image_size=8, patch_size=4, num_channels=3, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=5, **SMALL))


class Logits(nn.Module):
    """The model's logits from positional tensors (ids; ids and decoder ids; or pixels)."""

    def __init__(self, model: nn.Module, keywords: tuple[str, ...], **options: Any) -> None:
        super().__init__()
        self.model, self.keywords, self.options = model, keywords, options

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.keywords, inputs)), return_dict=False, **self.options)[0]


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of every position's logits against its label."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def _text(g: torch.Generator) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    return (torch.randint(3, VOCAB, (2, 5), generator=g),), torch.randint(3, VOCAB, (2, 5), generator=g)


def _seq2seq(g: torch.Generator) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    ids, dec = torch.randint(3, VOCAB, (2, 5), generator=g), torch.randint(3, VOCAB, (2, 4), generator=g)
    return (ids, dec), torch.randint(3, VOCAB, (2, 4), generator=g)


def _pixels(g: torch.Generator) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    return (torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64),), torch.randint(0, 5, (2,), generator=g)


NO_CACHE = dict(use_cache=False)
# name → (builder, keywords of its inputs, forward options, inputs and labels, parameters compared)
MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[str, ...], dict[str, Any], Callable[..., Any], tuple[str, ...]]] = {
    "gpt2": (_gpt2, ("input_ids",), NO_CACHE, _text,
             ("transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
              "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.weight")),
    "llama": (_llama, ("input_ids",), NO_CACHE, _text,
              ("model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
               "model.layers.1.mlp.gate_proj.weight", "model.norm.weight", "lm_head.weight")),
    "bert": (_bert, ("input_ids",), {}, _text,
             ("bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
              "bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.1.output.LayerNorm.bias",
              "cls.predictions.transform.dense.weight")),
    "bart": (_bart, ("input_ids", "decoder_input_ids"), NO_CACHE, _seq2seq,
             ("model.shared.weight", "model.encoder.embed_positions.weight",
              "model.encoder.layers.0.self_attn.v_proj.weight", "model.decoder.layers.1.encoder_attn.v_proj.weight",
              "model.decoder.layers.1.fc2.bias")),
    "t5": (_t5, ("input_ids", "decoder_input_ids"), NO_CACHE, _seq2seq,
           ("shared.weight", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            "encoder.block.1.layer.1.DenseReluDense.wi.weight", "decoder.block.1.layer.1.EncDecAttention.q.weight",
            "decoder.final_layer_norm.weight")),
    "vit": (_vit, ("pixel_values",), {}, _pixels,
            ("vit.embeddings.patch_embeddings.projection.weight", "vit.embeddings.cls_token",
             "vit.layers.0.attention.q_proj.weight", "vit.layernorm.weight", "classifier.weight")),
}
# steps torch computes in float32 inside the float64 model (upcast norms, float32 softmax)
MIXED = {"llama", "t5", "vit"}
# (verification checks those steps, and the end-to-end rows whose path crosses them, at float32's tolerance)


def built(name: str) -> tuple[nn.Module, tuple[torch.Tensor, ...], Callable[..., Any], torch.Tensor]:
    """(model returning logits, inputs, loss, labels) of model ``name``, seeded."""
    build, keywords, options, data, _ = MODELS[name]
    torch.manual_seed(0)
    model = Logits(build().double().eval(), keywords, **options)
    inputs, labels = data(torch.Generator().manual_seed(0))
    return model, tuple(inputs), cross_entropy, labels


# what scripts/models_tried.py reads
CASES = [Case(name, "transformers", functools.partial(built, name)) for name in MODELS]


class Derived:
    """One model's derivation with the loss, and what is needed to recompute it with autograd."""

    def __init__(self, name: str) -> None:
        self.compared = MODELS[name][4]
        self.model, self.inputs, _, self.labels = built(name)
        start = time.perf_counter()
        self.d = st.derive(self.model, *self.inputs, loss=cross_entropy, target=self.labels, verify=False)
        self.seconds = time.perf_counter() - start

    def autograd(self) -> dict[str, torch.Tensor]:
        """∂loss/∂(floating inputs, compared parameters) by torch.autograd, independently of symbolic_torch."""
        leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in self.inputs]
        params = dict(self.model.named_parameters())
        wrt = {f"#{k}": x for k, x in enumerate(leaves) if x.is_floating_point()}
        wrt.update({f"model.{n}": params[f"model.{n}"] for n in self.compared})
        loss = cross_entropy(self.model(*leaves), self.labels)
        return dict(zip(wrt, torch.autograd.grad(loss, list(wrt.values()))))


_CACHE: dict[str, Derived] = {}


def _derived(name: str) -> Derived:
    if name not in _CACHE:
        _CACHE[name] = Derived(name)
    return _CACHE[name]


def _params() -> list[Any]:
    return [pytest.param(n, marks=pytest.mark.slow) for n in MODELS]


@pytest.mark.parametrize("name", _params())
def test_every_formula_verifies(name: str) -> None:
    """derive + verify: every step's forward and every gradient formula agree with autograd."""
    m = _derived(name)
    report = m.d.verify()
    print(f"{name}: {len(m.d.steps)} steps, derived in {m.seconds:.1f} s, verify ok={report.ok}")
    assert len(m.d.steps) > 30, f"{name}: only {len(m.d.steps)} steps"
    assert report.ok, str(report)


@pytest.mark.parametrize("name", _params())
def test_gradient_values_are_autograds(name: str) -> None:
    """gradient_values() is torch.autograd.grad of the same loss (embeddings and a few parameters).

    Models with float32 steps are compared at float32's tolerance: autograd's own numbers are
    no more exact than that there. The others at float64's.
    """
    m = _derived(name)
    if name in ("gpt2", "llama"):  # torch.fx cannot trace them: the export graph (aten.alias: rules/aten.py)
        assert m.d.capture_method == "torch.export"
    got, ref = m.d.gradient_values(), m.autograd()
    floats = [n for n, x in zip(m.d.input_names, m.inputs) if x.is_floating_point()]
    ref.update({n: ref.pop(f"#{k}") for k, n in enumerate(floats)})
    tol = for_dtype(torch.float32 if name in MIXED else torch.float64)
    for key, r in ref.items():
        assert key in got, f"{name}: no derived gradient for {key}; got {sorted(got)[:8]}…"
        scale = r.abs().max().item()
        assert scale > 1e-6, f"{name}: {key}'s gradient is (near) zero: the comparison would prove nothing"
        err = (got[key] - r).abs().max().item()
        assert err <= tol.atol + tol.rtol * scale, f"{name}: {key} derived vs autograd max abs error {err:.3g}"

