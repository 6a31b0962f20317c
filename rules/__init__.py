"""The rule table: one module per family; importing this package registers them all.

See README.md in this folder for the vocabulary of an entry.
"""
from symbolic_torch.rules import (activations, convolution, elementwise, linalg, losses, normalization,  # noqa: F401
               pooling, reductions, shape, softmax)
from symbolic_torch.rules import constants, tuples  # noqa: F401,E402  (outputs that are constants: ones_like, detach, …)
from symbolic_torch.rules import conv_transpose, embedding, padding, upsample  # noqa: F401,E402  (issue 3 layers)
from symbolic_torch.rules import elementary  # noqa: F401,E402  (elementwise math: sin … erfinv, floor, round, lgamma)
from symbolic_torch.rules import attention, graph, recurrent  # noqa: F401,E402  (attention, recurrent and graph layers)
from symbolic_torch.rules import arithmetic  # noqa: F401,E402  (maximum, clamp, where, lerp, addcmul, xlogy, fmod, …)
from symbolic_torch.rules import statistics  # noqa: F401,E402  (amax, max, logsumexp, var, std, nansum, cumsum, softmin, trace)
from symbolic_torch.rules import norms  # noqa: F401,E402  (vector_norm, norm, linalg.norm, matrix_norm, dist)
from symbolic_torch.rules import indexing  # noqa: F401,E402  (data movement: x[…], flip, roll, gather, stack, repeat, diagonal, scatters)
from symbolic_torch.rules import contraction  # noqa: F401,E402  (einsum, mv, dot, inner, outer, addmm…, tensordot, kron, bilinear)
from symbolic_torch.rules import products  # noqa: F401,E402  (prod, cumprod)
from symbolic_torch.rules import selection  # noqa: F401,E402  (sort, topk, kthvalue, median, mode, cummax, quantile: order statistics)
from symbolic_torch.rules import calculus, distances  # noqa: F401,E402  (diff, trapezoid, tril/triu; cdist, pdist, normalize, cross, …)
from symbolic_torch.rules import losses_pointwise  # noqa: F401,E402  (l1, smooth l1, huber, soft margin, kl, bce, poisson/gaussian nll, ranking, hinge)
from symbolic_torch.rules import losses_margin  # noqa: F401,E402  (cosine embedding, multi-label/multi-class margins, triplet)
from symbolic_torch.rules import unpooling  # noqa: F401,E402  (max_unpool1d/2d/3d, duplicate indices as torch computes them)
from symbolic_torch.rules import fold, response_norm  # noqa: F401,E402  (fold / col2im; local_response_norm)
from symbolic_torch.rules import rms_norm  # noqa: F401,E402  (rms_norm, RMSNorm)
from symbolic_torch.rules import normalization_native  # noqa: F401,E402  (native_layer/group/batch_norm tuple forms)
from symbolic_torch.rules import random_ops  # noqa: F401,E402  (alpha dropout, normal, bernoulli: the run's draws replayed as constants)
from symbolic_torch.rules import special_functions  # noqa: F401,E402  (entr, i0, i0e, i1, i1e, nextafter, frexp)
from symbolic_torch.rules import scatter_reduce  # noqa: F401,E402  (scatter_reduce, index_reduce: sum, prod, mean, amax, amin)
from symbolic_torch.rules import covariance  # noqa: F401,E402  (cov, corrcoef)
from symbolic_torch.rules import powers_differences  # noqa: F401,E402  (linalg.matrix_power, torch.gradient, zero_)
