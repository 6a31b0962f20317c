"""Agreement tests for the data-movement rules (rules/indexing.py via rules/movement.py)."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F

import symbolic_torch as st
from conftest import check, rand

I = torch.tensor  # integer index tensors are constants of the formulas
MASK = torch.tensor([[True, False, True, True], [False, True, False, False], [True, True, False, True]])

ONE: list[tuple[str, Callable[..., Any], tuple[int, ...]]] = [
    ("flip", lambda x: torch.flip(x, (0, 1)), (3, 4)), ("fliplr", torch.fliplr, (3, 4)),
    ("flipud", lambda x: x.flipud(), (3, 4)), ("roll", lambda x: torch.roll(x, (1, -2), (0, 1)), (3, 4)),
    ("rot90", lambda x: torch.rot90(x, 1, (0, 1)), (3, 4)), ("narrow", lambda x: x.narrow(1, 1, 2), (3, 4)),
    ("select", lambda x: torch.select(x, 1, 2), (3, 4)),
    ("slice", lambda x: torch.ops.aten.slice.Tensor(x, 1, 1, 4, 2), (3, 4)),
    ("getitem", lambda x: x[1:, ::2], (3, 4)), ("getitem", lambda x: x[None, ..., -1], (3, 4)),
    ("getitem", lambda x: x[I([2, 0, 2])], (3, 4)), ("getitem", lambda x: x[MASK], (3, 4)),
    ("getitem", lambda x: x[I([0, 2]), 1:3], (3, 4)),
    ("movedim", lambda x: torch.movedim(x, 0, -1), (2, 3, 4)), ("swapdims", lambda x: x.swapdims(0, 2), (2, 3, 4)),
    ("permute_copy", lambda x: torch.permute_copy(x, (2, 0, 1)), (2, 3, 4)), ("t_copy", torch.t_copy, (3, 4)),
    ("expand", lambda x: x.expand(2, 3, 4), (3, 1)), ("expand", lambda x: torch.broadcast_to(x, (3, 4)), (4,)),
    ("view_copy", lambda x: torch.view_copy(x, (4, 3)), (3, 4)), ("squeeze_copy", torch.squeeze_copy, (3, 1, 4)),
    ("unsqueeze_copy", lambda x: torch.unsqueeze_copy(x, 1), (3, 4)), ("ravel", torch.ravel, (3, 4)),
    ("atleast_1d", torch.atleast_1d, ()), ("atleast_2d", torch.atleast_2d, (4,)),
    ("atleast_3d", torch.atleast_3d, (3, 4)),
    ("diagonal", lambda x: torch.diagonal(x, 1), (3, 4)), ("diagonal", lambda x: x.diagonal(0, 0, 2), (3, 2, 3)),
    ("unfold", lambda x: x.unfold(1, 2, 1), (3, 4)),
    ("gather", lambda x: torch.gather(x, 1, I([[0, 0], [3, 1], [2, 2]])), (3, 4)),
    ("take_along_dim", lambda x: torch.take_along_dim(x, I([[0], [3], [1]]), 1), (3, 4)),
    ("take", lambda x: torch.take(x, I([0, 11, 5, 5])), (3, 4)), ("masked_select", lambda x: x.masked_select(MASK), (3, 4)),
    ("combinations", lambda x: torch.combinations(x, 2), (4,)),
    ("repeat", lambda x: x.repeat(2, 1, 2), (3, 4)), ("tile", lambda x: torch.tile(x, (2,)), (3, 4)),
    ("repeat_interleave", lambda x: x.repeat_interleave(2, dim=0), (3, 4)),
    ("repeat_interleave", lambda x: torch.repeat_interleave(x, I([1, 0, 2]), dim=0), (3, 4)),
    ("diag", torch.diag, (4,)), ("diag", lambda x: torch.diag(x, -1), (3, 4)),
    ("diag_embed", lambda x: torch.diag_embed(x, 1), (2, 3)), ("diagflat", torch.diagflat, (2, 2)),
    ("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), (1, 8, 2, 3)),
    ("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 2), (1, 2, 4, 2)),
    ("channel_shuffle", lambda x: F.channel_shuffle(x, 2), (1, 4, 2, 2)),
    ("index_fill", lambda x: x.index_fill(1, I([0, 2]), -1.5), (3, 4)),
    ("fill", lambda x: torch.fill(x, 2.5), (3, 4)),
]


@pytest.mark.parametrize("rule, f, shape", ONE, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(ONE)])
def test_one_input(rule: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    d = check(lambda x: f(x), rand(*shape), zero_gradient_ok="fill overwrites every element" if rule == "fill" else "")
    assert [s.op for s in d.steps][-1] == rule


MANY: list[tuple[str, Callable[..., Any], list[tuple[int, ...]]]] = [
    ("stack", lambda x, y: torch.stack([x, y], 1), [(3, 4), (3, 4)]),
    ("hstack", lambda x, y: torch.hstack([x, y]), [(3, 4), (3, 2)]),
    ("column_stack", lambda x, y: torch.column_stack([x, y]), [(3,), (3, 2)]),
    ("vstack", lambda x, y: torch.vstack((x, y)), [(4,), (2, 4)]),
    ("dstack", lambda x, y: torch.dstack([x, y]), [(3, 4), (3, 4)]),
    ("block_diag", lambda x, y: torch.block_diag(x, y), [(2, 3), (1, 2)]),
    ("cartesian_prod", lambda x, y: torch.cartesian_prod(x, y), [(3,), (2,)]),
    ("expand_as", lambda x, y: x.expand_as(y) * y, [(3, 1), (3, 4)]),
    ("select_scatter", lambda x, y: torch.select_scatter(x, y, 0, 1), [(3, 4), (4,)]),
    ("slice_scatter", lambda x, y: torch.slice_scatter(x, y, 1, 0, 4, 2), [(3, 4), (3, 2)]),
    ("diagonal_scatter", lambda x, y: torch.diagonal_scatter(x, y, 1), [(3, 4), (3,)]),
    ("index_copy", lambda x, y: x.index_copy(0, I([2, 0]), y), [(3, 4), (2, 4)]),
    ("scatter", lambda x, y: torch.scatter(x, 1, I([[3, 0], [1, 2], [0, 3]]), y), [(3, 4), (3, 2)]),
    ("index_put", lambda x, y: torch.index_put(x, (I([0, 2]), I([1, 3])), y), [(3, 4), (2,)]),
    ("masked_scatter", lambda x, y: x.masked_scatter(MASK, y), [(3, 4), (12,)]),
]


@pytest.mark.parametrize("rule, f, shapes", MANY, ids=[r for r, _, _ in MANY])
def test_several_inputs(rule: str, f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    d = check(f, *[rand(*s) for s in shapes])
    assert rule in [s.op for s in d.steps]


def test_formulas_are_index_expressions_where_they_can_be() -> None:
    """Reads simplify to affine, modular or floored indices; gathers keep their index table."""
    forward = {k: str(check(f, rand(3, 4)).steps[0].forward.rhs) for k, f in [
        ("flip", lambda x: torch.flip(x, (0,))), ("slice", lambda x: x[1:, ::2]),
        ("roll", lambda x: torch.roll(x, 1, 1)), ("interleave", lambda x: x.repeat_interleave(2, dim=1)),
        ("diagonal", lambda x: torch.diagonal(x, 1)), ("take", lambda x: torch.take(x, I([0, 11, 5])))]}
    assert forward == {"flip": "x[2 - i, j]", "slice": "x[i + 1, 2*j]", "roll": "x[i, Mod(j + 3, 4)]",
                       "interleave": "x[i, floor(j/2)]", "diagonal": "x[i, i + 1]", "take": "x[C0[i], C1[i]]"}


def test_stack_reads_each_input_in_its_slot() -> None:
    d = check(lambda x, y: torch.stack([x, y]), rand(2), rand(2))
    assert str(d.steps[0].forward.rhs) == "[Eq(i, 0)]*x0[j] + [Eq(i, 1)]*x1[j]"


def test_an_op_that_computes_is_refused() -> None:
    """index_put with accumulate adds: the builder sees it is not pure movement."""
    with pytest.raises(st.UnsupportedOpError, match="computes"):
        st.derive(lambda x, y: torch.index_put(x, (I([0, 0]),), y, accumulate=True), rand(3, 4), rand(2, 4))


PADDING: list[tuple[str, Callable[..., Any], tuple[int, ...]]] = [
    ("constant_pad_nd", lambda x: torch.constant_pad_nd(x, (1, 2, 0, 1), 0.5), (3, 4)),
    ("im2col", lambda x: F.unfold(x, (2, 2), padding=1, stride=2), (1, 2, 3, 4)),
    ("max_unpool1d", lambda x: F.max_unpool1d(x, I([[[1, 2, 5]]]), 2), (1, 1, 3)),
    ("max_unpool2d", lambda x: F.max_unpool2d(x, I([[[[0, 3], [9, 14]]]]), 2), (1, 1, 2, 2)),
    ("max_unpool3d", lambda x: F.max_unpool3d(x, I([[[[[0, 7]]]]]), 2), (1, 1, 1, 1, 2)),
    ("fftshift", lambda x: torch.fft.fftshift(x), (3, 4)), ("ifftshift", lambda x: torch.fft.ifftshift(x, 0), (3, 4)),
    ("put", lambda x: torch.put(x, I([0, 7]), torch.ones(2, dtype=torch.float64)), (3, 4)),
    ("as_strided", lambda x: torch.as_strided(x, (2, 2), (1, 2), 1), (3, 4)),
    ("unsafe_masked_index", lambda x: torch._unsafe_masked_index(x, torch.tensor([[True], [False]]), [I([0, 2])], -1.0),
     (3, 4)),
]


@pytest.mark.parametrize("rule, f, shape", PADDING, ids=[r for r, _, _ in PADDING])
def test_padding_patches_and_views(rule: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    d = check(lambda x: f(x), rand(*shape))
    assert rule in [s.op for s in d.steps]


PIECES: list[tuple[str, Callable[..., Any], list[tuple[int, ...]]]] = [
    ("split_with_sizes", lambda x: torch.split_with_sizes(x, [1, 3], 1)[1], [(3, 4)]),
    ("split_with_sizes", lambda x: torch.split_with_sizes_copy(x, [2, 1])[0], [(3, 4)]),
    ("unsafe_split", lambda x: torch.unsafe_split(x, 3, 1)[1], [(3, 4)]),
    ("unsafe_chunk", lambda x: torch.unsafe_chunk(x, 2, 0)[0], [(3, 4)]),
    ("hsplit", lambda x: torch.hsplit(x, 2)[1], [(3, 4)]), ("vsplit", lambda x: torch.vsplit(x, [1])[1], [(3, 4)]),
    ("dsplit", lambda x: torch.dsplit(x, 2)[0], [(2, 2, 4)]), ("unbind_copy", lambda x: torch.unbind_copy(x, 1)[2], [(3, 4)]),
    ("meshgrid", lambda x, y: torch.meshgrid(x, y, indexing="xy")[0] * torch.meshgrid([x, y], indexing="ij")[1].T,
     [(3,), (2,)]),
    ("atleast_2d", lambda x, y: torch.atleast_2d(x, y)[0] + torch.atleast_2d((x, y))[1].sum(), [(3,), ()]),
]


@pytest.mark.parametrize("rule, f, shapes", PIECES, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(PIECES)])
def test_one_item_of_a_tuple(rule: str, f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    fixed = {1: lambda a: f(a), 2: lambda a, b: f(a, b)}[len(shapes)]
    d = check(fixed, *[rand(*s) for s in shapes])
    assert rule in [s.op for s in d.steps]


@pytest.mark.parametrize("module, shape", [
    (torch.nn.PixelShuffle(2), (1, 8, 2, 3)), (torch.nn.PixelUnshuffle(2), (2, 2, 4, 6)),
    (torch.nn.ChannelShuffle(2), (1, 4, 2, 2)), (torch.nn.Unfold(2, padding=1, stride=2), (1, 2, 3, 3)),
], ids=["PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "Unfold"])
def test_data_movement_modules(module: torch.nn.Module, shape: tuple[int, ...]) -> None:
    conv = torch.nn.Conv2d(shape[1], shape[1], 1).double()
    d = check(torch.nn.Sequential(conv, module), rand(*shape))
    assert d.steps[-1].module_path == "1"


def test_as_strided_on_a_view_reads_only_its_own_elements() -> None:
    base = rand(10)
    view = base[3:]  # storage offset 3
    d = check(lambda v: v.as_strided((2, 2), (1, 2)), view)
    assert d.steps[0].op == "as_strided"
    check(lambda v: torch.as_strided(v, (2, 2), (1, 2), 1), rand(7))  # an offset on a tensor of its own
    with pytest.raises(st.UnsupportedOpError, match="outside its input's elements"):
        st.derive(lambda v: v.as_strided((2, 2), (1, 2), 0), view)  # the base's storage before the view
    with pytest.raises(st.UnsupportedOpError, match="outside its input's elements"):
        st.derive(lambda v: v.as_strided((2, 2), (3, 4)), base[2:8])  # past the view's last element
