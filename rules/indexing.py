"""Indexing, views and assembly: the data-movement entries of the table (see movement.py).

Each entry names its torch targets and the callable that computes it; ``moved`` turns
the op into ``y[i…] = x[where(i…)]`` (several inputs: a sum of such reads, each under
the condition that it supplies the element; filled constants: a constant table K).
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import torch
import torch.nn.functional as F

from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules.movement import moved


def method(name: str) -> Callable[..., Any]:
    """``x.name(*args)`` as a function of ``x`` (for ops that are only Tensor methods)."""
    return lambda x, *args, **kwargs: getattr(x, name)(*args, **kwargs)


def entry(name: str, fn: Callable[..., Any], doc: str, functions: list[Any] = (), methods: list[str] = (),
          multi_output: bool = False) -> None:
    """Register the data-movement rule ``name`` computed by ``fn`` (a tuple of tensors: ``multi_output``)."""
    rule(name, functions=list(functions), methods=list(methods), latex=rf"\operatorname{{{name}}}",
         multi_output=multi_output)(moved(fn, doc))


# views and reorderings: y[i…] = x[affine(i…)]
entry("flip", torch.flip, "y[…i…] = x[…n−1−i…] along the flipped dims.", [torch.flip], ["flip"])
entry("fliplr", torch.fliplr, "y[i, j, …] = x[i, n−1−j, …].", [torch.fliplr], ["fliplr"])
entry("flipud", torch.flipud, "y[i, …] = x[n−1−i, …].", [torch.flipud], ["flipud"])
entry("roll", torch.roll, "y[…i…] = x[…(i − s) mod n…].", [torch.roll], ["roll"])
entry("rot90", torch.rot90, "y = x turned by k quarter turns in the plane of two dims.", [torch.rot90], ["rot90"])
entry("narrow", torch.narrow, "y[…i…] = x[…i + start…].", [torch.narrow, torch.narrow_copy], ["narrow", "narrow_copy"])
entry("select", torch.select, "y[…] = x[…, k, …] (the dim dropped).", [torch.select], ["select"])
entry("slice", torch.ops.aten.slice.Tensor, "y[…i…] = x[…start + step·i…].", [], ["slice"])
entry("getitem", operator.getitem, "y = x[index]: ints drop a dim, slices stride it, None adds one, "
      "tensors and masks read through a constant index table.", [operator.getitem], ["__getitem__"])
entry("movedim", torch.movedim, "y = x with dims moved (a permutation of its indices).",
      [torch.movedim, torch.moveaxis], ["movedim", "moveaxis"])
entry("swapdims", torch.swapdims, "y = x with two dims exchanged.", [torch.swapdims, torch.transpose_copy], ["swapdims"])
entry("permute_copy", torch.permute_copy, "y = x with its dims permuted.", [torch.permute_copy], [])
entry("t_copy", torch.t_copy, "y[i, j] = x[j, i].", [torch.t_copy], [])
entry("expand", method("expand"), "y[i…] = x[i…] with size-1 dims read at 0 (broadcast).",
      [torch.broadcast_to, torch.expand_copy], ["expand", "broadcast_to"])
entry("expand_as", method("expand_as"), "y[i…] = x[i…] broadcast to other's shape.", [], ["expand_as"])
entry("view_copy", torch.view_copy, "y[j…] = x[unravel(ravel(j…))] (a reshape).", [torch.view_copy], [])
entry("squeeze_copy", torch.squeeze_copy, "y = x without its size-1 dims.", [torch.squeeze_copy], [])
entry("unsqueeze_copy", torch.unsqueeze_copy, "y = x with a size-1 dim inserted.", [torch.unsqueeze_copy], [])
entry("ravel", torch.ravel, "y[k] = x[unravel(k)].", [torch.ravel], ["ravel"])
_VF = torch._C._VariableFunctions  # the builtins torch.functional's Python wrappers dispatch to
for _k, _f in enumerate([torch.atleast_1d, torch.atleast_2d, torch.atleast_3d]):
    entry(f"atleast_{_k + 1}d", _f, f"y = x with leading size-1 dims up to {_k + 1}-d.",
          [_f, getattr(_VF, _f.__name__)], [], multi_output=True)
entry("diagonal", torch.diagonal, "y[…, i] = x[…, i, i + offset, …].",
      [torch.diagonal, torch.diagonal_copy, torch.linalg.diagonal], ["diagonal"])
entry("unfold", method("unfold"), "y[…, w, …, k] = x[…, w·step + k, …] (sliding windows).",
      [torch.unfold_copy], ["unfold"])
# gathers: reads through integer index tensors
entry("gather", torch.gather, "y[…i…] = x[…I[…i…]…] along dim.", [torch.gather], ["gather"])
entry("take_along_dim", torch.take_along_dim, "y[…i…] = x[…I[…i…]…] along dim (broadcast).",
      [torch.take_along_dim], ["take_along_dim"])
entry("take", torch.take, "y[i…] = x_flat[I[i…]].", [torch.take], ["take"])
entry("masked_select", torch.masked_select, "y[k] = the k-th element of x where the mask holds.",
      [torch.masked_select], ["masked_select"])
# assembly: several inputs, repeats, diagonals, scatters
entry("stack", torch.stack, "y[…, m, …] = x_m[…] (a new dim).", [torch.stack], [])
entry("hstack", torch.hstack, "x_m side by side along dim 1 (dim 0 for 1-d).", [torch.hstack], [])
entry("column_stack", torch.column_stack, "x_m as columns (1-d as one column each).", [torch.column_stack], [])
entry("vstack", torch.vstack, "x_m stacked along dim 0 (1-d as rows).", [torch.vstack, torch.row_stack], [])
entry("dstack", torch.dstack, "x_m stacked along dim 2.", [torch.dstack], [])
entry("block_diag", torch.block_diag, "x_m as diagonal blocks, 0 elsewhere.", [torch.block_diag], [])
entry("cartesian_prod", torch.cartesian_prod, "y[k, m] = x_m[digit m of k].", [torch.cartesian_prod], [])
entry("combinations", torch.combinations, "y[k, m] = x[the m-th member of combination k].", [torch.combinations], [])
entry("repeat", method("repeat"), "y[…i…] = x[…i mod n…] (tiled copies).", [], ["repeat"])
entry("tile", torch.tile, "y[…i…] = x[…i mod n…] (tiled copies, reps padded with 1s).", [torch.tile], ["tile"])
entry("repeat_interleave", torch.repeat_interleave, "y[…i…] = x[…⌊i/r⌋…] (each element r times).",
      [torch.repeat_interleave], ["repeat_interleave"])
entry("diag", torch.diag, "1-d x: y[i, i + k] = x[i]; 2-d x: y[i] = x[i, i + k].", [torch.diag], ["diag"])
entry("diag_embed", torch.diag_embed, "y[…, i, i + offset] = x[…, i], 0 elsewhere.", [torch.diag_embed], ["diag_embed"])
entry("diagflat", torch.diagflat, "y[i, i + offset] = x_flat[i], 0 elsewhere.", [torch.diagflat], ["diagflat"])
entry("pixel_shuffle", F.pixel_shuffle, "y[n, c, h·r + a, w·r + b] = x[n, c·r² + a·r + b, h, w].",
      [F.pixel_shuffle], [])
entry("pixel_unshuffle", F.pixel_unshuffle, "the inverse of pixel_shuffle.", [F.pixel_unshuffle], [])
entry("channel_shuffle", F.channel_shuffle, "channels regrouped: (g, c/g) → (c/g, g).",
      [F.channel_shuffle, torch.native_channel_shuffle], [])
entry("select_scatter", torch.select_scatter, "y = x with x[…, k, …] replaced by src.",
      [torch.select_scatter], ["select_scatter"])
entry("slice_scatter", torch.slice_scatter, "y = x with a strided slice replaced by src.",
      [torch.slice_scatter], ["slice_scatter"])
entry("diagonal_scatter", torch.diagonal_scatter, "y = x with a diagonal replaced by src.",
      [torch.diagonal_scatter], ["diagonal_scatter"])
entry("index_copy", torch.index_copy, "y = x with rows I[k] along dim replaced by src's k-th.",
      [torch.index_copy], ["index_copy"])
entry("scatter", torch.scatter, "y = x with y[…I[…i…]…] = src[…i…] along dim (or a number).",
      [torch.scatter], ["scatter"])
entry("index_put", torch.index_put, "y = x with y[indices] = values.", [torch.index_put], ["index_put"])
entry("masked_scatter", torch.masked_scatter, "y = x where the mask is off, src's elements in order where on.",
      [torch.masked_scatter], ["masked_scatter"])
entry("index_fill", torch.index_fill, "y = x with rows I along dim set to a value.", [torch.index_fill], ["index_fill"])
entry("fill", torch.fill, "y = the value everywhere.", [torch.fill], ["fill"])
# padding, patches, shifts, strided views (max unpooling: unpooling.py)
entry("constant_pad_nd", torch.constant_pad_nd, "y = x inside, the value in the padding.", [torch.constant_pad_nd], [])
entry("im2col", F.unfold, "y[n, c·k + p, l] = x[n, c, window l's p-th cell] (0 in the padding).", [F.unfold], [])
entry("fftshift", torch.fft.fftshift, "y = x rolled by half its size along the dims.", [torch.fft.fftshift], [])
entry("ifftshift", torch.fft.ifftshift, "y = x rolled back by half its size along the dims.", [torch.fft.ifftshift], [])
entry("put", torch.put, "y = x with y_flat[I[k]] = src[k].", [torch.put], ["put"])
_AS_STRIDED_DOC = "y[i…] = x_flat[offset + Σ stride·i]."
_as_strided_moved = moved(torch.as_strided, _AS_STRIDED_DOC)


@rule("as_strided", functions=[torch.as_strided, torch.as_strided_copy], methods=["as_strided"],
      latex=r"\operatorname{as\_strided}")
def as_strided(call: Any, input: Any, size: Any, stride: Any, storage_offset: Any = None) -> Any:
    """y[i…] = x_flat[offset + Σ stride·i] — where every read falls inside x's own elements.

    as_strided addresses the *storage*: on a view (``base[5:]``) an offset or stride can reach
    memory of the base that is not part of x, which no formula in x can describe.
    """
    x = input.value
    start = x.storage_offset()
    if start and storage_offset is not None:
        raise NotImplementedError("as_strided with an explicit storage offset on a view addresses its base's "
                                  "storage, outside its input's elements")
    offset = start if storage_offset is None else int(storage_offset)
    last = offset + sum((n - 1) * st for n, st in zip(size, stride) if n > 0)
    if not x.is_contiguous() or last >= start + x.numel():
        raise NotImplementedError("as_strided reads memory outside its input's elements (its base's storage)")
    return _as_strided_moved(call, input, size, stride, offset - start)
entry("unsafe_masked_index", torch._unsafe_masked_index, "y = x[indices] where the mask holds, else the fill.",
      [torch._unsafe_masked_index], [])
# pieces: each item of the tuple is its own step, read from the input
entry("split_with_sizes", torch.split_with_sizes, "y_k[…i…] = x[…i + o_k…] (o_k: the sizes before k).",
      [torch.split_with_sizes, torch.split_with_sizes_copy, torch.unsafe_split_with_sizes], ["split_with_sizes"],
      multi_output=True)
entry("unsafe_split", torch.unsafe_split, "y_k[…i…] = x[…i + k·size…].", [torch.unsafe_split], ["unsafe_split"],
      multi_output=True)
entry("unsafe_chunk", torch.unsafe_chunk, "y_k[…i…] = x[…i + k·⌈n/chunks⌉…].", [torch.unsafe_chunk], ["unsafe_chunk"],
      multi_output=True)
for _name, _f in [("hsplit", torch.hsplit), ("vsplit", torch.vsplit), ("dsplit", torch.dsplit)]:
    entry(_name, _f, f"x cut into pieces along the dim {_name} names.", [_f], [_name], multi_output=True)
entry("unbind_copy", torch.unbind_copy, "y_k[…] = x[…, k, …].", [torch.unbind_copy], [], multi_output=True)
entry("meshgrid", torch.meshgrid, "y_k[i_0, …, i_m] = x_k[i_k] (i_0, i_1 swapped for indexing='xy').",
      [torch.meshgrid, _VF.meshgrid], [], multi_output=True)


def module_entry(name: str, modules: list[type], doc: str) -> None:
    """Register a data-movement module (``nn.PixelShuffle(2)``): the module itself computes it."""
    def impl(call: Any, *args: Any, **kwargs: Any) -> Any:
        return moved(call.module, doc)(call, *args, **kwargs)
    impl.__doc__ = doc
    rule(name, modules=modules, latex=rf"\operatorname{{{name.removesuffix('_module')}}}")(impl)


module_entry("pixel_shuffle_module", [torch.nn.PixelShuffle], "y[n, c, h·r + a, w·r + b] = x[n, c·r² + a·r + b, h, w].")
module_entry("pixel_unshuffle_module", [torch.nn.PixelUnshuffle], "the inverse of pixel_shuffle.")
module_entry("channel_shuffle_module", [torch.nn.ChannelShuffle], "channels regrouped: (g, c/g) → (c/g, g).")
module_entry("im2col_module", [torch.nn.Unfold], "y[n, c·k + p, l] = x[n, c, window l's p-th cell] (0 in the padding).")
