"""The rule table: one module per family; importing this package registers them all.

See README.md in this folder for the vocabulary of an entry.
"""
from . import (activations, convolution, elementwise, linalg, losses, normalization,  # noqa: F401
               pooling, reductions, shape, softmax)
from . import constants, tuples  # noqa: F401,E402  (outputs that are constants: ones_like, detach, …)
from . import conv_transpose, embedding, padding, upsample  # noqa: F401,E402  (issue 3 layers)
from . import elementary  # noqa: F401,E402  (elementwise math: sin … erfinv, floor, round, lgamma)
from . import attention, graph, recurrent  # noqa: F401,E402  (attention, recurrent and graph layers)
