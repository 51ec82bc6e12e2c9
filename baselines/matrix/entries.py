"""Registry entries of the matrix optimizers (inventory T2-25 to T2-36).

Every method here acts on matrices through `baselines.matrix.common`: leaves with two or more
axes are seen as ``(prod(shape[:-1]), shape[-1])`` matrices, vectors and scalars go to an
AdamW fallback, and a `label_fn` argument overrides the split. Muon is optax's own; the rest
live in their own `_<name>.py` files beside this one. The entry format is in the module
docstring of `baselines.registry`.
"""

from __future__ import annotations

import jax
import optax
import optax.contrib

from baselines.axes import matrix_shape
from baselines.matrix._auon import auon, hybrid_auon
from baselines.matrix._conda import conda
from baselines.matrix._mars_shampoo import mars_shampoo
from baselines.matrix._poet import poet
from baselines.matrix._riemannian import riemannian_adagrad, riemannian_adam, riemannian_amsgrad
from baselines.matrix._scale import scale
from baselines.matrix._shampoo import shampoo
from baselines.matrix._sinkgd import sinkgd
from baselines.matrix._soap import soap
from baselines.matrix._swan import swan
from baselines.registry import Choice, Entry, LogRange, register

_LR = LogRange(1e-4, 1.0)
_ADAPTIVE_LR = LogRange(1e-5, 1e-1)
_WD = LogRange(1e-4, 1e-1)


def muon_dimension_numbers(params: optax.Params):
  """`optax.contrib.MuonDimensionNumbers` for the reshape rule of `baselines.matrix`.

  Leaves with >= 2 axes: all axes but the last are reduction (input) axes, the last is the
  output axis; vectors and scalars get None (optax's Adam fallback).
  """

  def spec(x):
    if matrix_shape(x.shape) is None:
      return None
    return optax.contrib.MuonDimensionNumbers(
      reduction_axis=tuple(range(x.ndim - 1)), output_axis=x.ndim - 1
    )

  return jax.tree.map(spec, params)


def muon(
  learning_rate: optax.ScalarOrSchedule,
  beta: float = 0.95,
  ns_steps: int = 5,
  weight_decay: float = 0.0,
  nesterov: bool = True,
  adam_learning_rate: optax.ScalarOrSchedule | None = None,
):
  """`optax.contrib.muon` with `baselines.matrix`'s reshape rule for tensors of rank >= 3.

  2-D leaves are orthogonalized as they are (optax's default), conv kernels
  ``(..., in, out)`` as ``(prod(...) * in, out)`` matrices, vectors and scalars get optax's
  Adam fallback (`adam_learning_rate`, `learning_rate` when None).
  """
  return optax.contrib.muon(
    learning_rate,
    ns_steps=ns_steps,
    beta=beta,
    weight_decay=weight_decay,
    nesterov=nesterov,
    adam_learning_rate=adam_learning_rate,
    muon_weight_dimension_numbers=muon_dimension_numbers,
  )


register(
  Entry(
    name="shampoo",
    factory=shampoo,
    defaults={
      "learning_rate": 1e-2,
      "b1": 0.9,
      "b2": 1.0,
      "block_size": 128,
      "precondition_every": 10,
      "matrix_eps": 1e-6,
      "graft": "adagrad",
      "weight_decay": 0.0,
    },
    search_space={
      "learning_rate": _LR,
      "b2": Choice((1.0, 0.999)),
      "matrix_eps": LogRange(1e-8, 1e-4),
    },
    ids=("T2-25",),
    tier=2,
    source="project",
    paper="Anil et al., Scalable Second Order Optimization for Deep Learning, arXiv:2002.09018",
    reference="paper Alg. 1 (Gupta et al., with Anil et al.'s blocking and grafting). Kept: exact "
    "inverse roots by eigendecomposition every k steps inside the step (not the coupled Newton "
    "iteration, not asynchronous).",
  )
)
register(
  Entry(
    name="soap",
    factory=soap,
    defaults={
      "learning_rate": 3e-3,
      "b1": 0.95,
      "b2": 0.95,
      "eps": 1e-8,
      "precondition_frequency": 10,
      "weight_decay": 0.01,
    },
    search_space={
      "learning_rate": _ADAPTIVE_LR,
      "precondition_frequency": Choice((1, 10, 100)),
      "weight_decay": _WD,
    },
    ids=("T2-26",),
    tier=2,
    source="project",
    paper="Vyas et al., SOAP: Improving and Stabilizing Shampoo using Adam, arXiv:2409.11321",
    reference="authors' code nikhilvyas/SOAP@soap.py (setup-only first step, Adam in the "
    "eigenbasis, one power-iteration + QR refresh every f steps, defaults lr 3e-3, betas (0.95, "
    "0.95), wd 0.01).",
  )
)
register(
  Entry(
    name="muon",
    factory=muon,
    defaults={"learning_rate": 0.02, "beta": 0.95, "ns_steps": 5, "weight_decay": 0.0},
    search_space={"learning_rate": _LR, "weight_decay": _WD},
    ids=("T2-27",),
    tier=2,
    source="optax",
    paper="Jordan et al., Muon: An optimizer for hidden layers in neural networks (2024), "
    "https://kellerjordan.github.io/posts/muon/; Liu et al., Muon is Scalable for LLM "
    "Training, arXiv:2502.16982",
  )
)


def muon_linear_decay(
  learning_rate: float,
  num_steps: int = 1000,
  beta: float = 0.95,
  ns_steps: int = 5,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """`muon` with its learning rate (and its Adam fallback's) decayed linearly to zero over
  `num_steps`, η_t = η (1 - t/T): the untuned peer a learned rule must beat (issue 15)."""
  return muon(
    optax.linear_schedule(learning_rate, 0.0, num_steps),
    beta=beta,
    ns_steps=ns_steps,
    weight_decay=weight_decay,
  )


register(
  Entry(
    name="muon_linear_decay",
    factory=muon_linear_decay,
    defaults={"learning_rate": 0.02, "num_steps": 1000, "beta": 0.95, "weight_decay": 0.0},
    search_space={"learning_rate": _LR, "weight_decay": _WD},
    source="optax",
    paper="Jordan et al., Muon (2024), https://kellerjordan.github.io/posts/muon/, under a "
    "linear decay to zero (Defazio et al., When, Why and How Much?, arXiv:2310.07831)",
  )
)
_AUON_PAPER = "Maity, AuON: A Linear-time Alternative to Semi-Orthogonal Momentum Updates, " + (
  "arXiv:2509.24320"
)
register(
  Entry(
    name="auon",
    factory=auon,
    defaults={"learning_rate": 0.08, "b1": 0.95, "nesterov": True, "weight_decay": 0.0},
    search_space={"learning_rate": _LR},
    ids=("T2-28",),
    tier=2,
    source="project",
    paper=_AUON_PAPER,
    reference="paper's algorithm (Maity, AuON: Nesterov momentum, Frobenius normalization, "
    "cosh-RMS scaling, sqrt(max(1, fan_out/fan_in))); vectors to the AdamW fallback.",
  )
)
register(
  Entry(
    name="hybrid_auon",
    factory=hybrid_auon,
    defaults={"learning_rate": 0.08, "b1": 0.95, "nesterov": True, "weight_decay": 0.0},
    search_space={"learning_rate": _LR},
    ids=("T2-29",),
    tier=2,
    source="project",
    paper=_AUON_PAPER,
    reference="paper's algorithm (Hybrid-AuON: AuON with one quintic Newton-Schulz step before "
    "the cosh-RMS scaling).",
  )
)
register(
  Entry(
    name="conda",
    factory=conda,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "update_proj_gap": 2000,
      "scale": 1.0,
      "weight_decay": 0.0,
    },
    search_space={
      "learning_rate": _ADAPTIVE_LR,
      "update_proj_gap": Choice((200, 500, 2000)),
      "weight_decay": _WD,
    },
    ids=("T2-30",),
    tier=2,
    source="project",
    paper="Conda: Column-Normalized Adam for Training Large Language Models Faster, "
    "arXiv:2509.24218",
    reference="paper's algorithm (Conda: Adam's second moment in the basis of the momentum's "
    "singular vectors, refreshed every T steps, projection on the shorter side).",
  )
)
register(
  Entry(
    name="swan",
    factory=swan,
    defaults={"learning_rate": 1e-3, "ns_steps": 10, "rescale": True, "weight_decay": 0.0},
    search_space={"learning_rate": _LR},
    ids=("T2-31",),
    tier=2,
    source="project",
    paper="Ma et al., SWAN: SGD with Normalization and Whitening Enables Stateless LLM "
    "Training, arXiv:2412.13148",
    reference="paper's algorithm (Ma et al., SWAN: GradNorm per output unit, GradWhitening by "
    "Newton-Schulz, optional rescale); checked exact in issue 18's independent review.",
  )
)
register(
  Entry(
    name="sinkgd",
    factory=sinkgd,
    defaults={"learning_rate": 1e-3, "num_iters": 5, "weight_decay": 0.0},
    search_space={"learning_rate": _LR},
    ids=("T2-32",),
    tier=2,
    source="project",
    paper="Scetbon et al., Gradient Multi-Normalization for Stateless and Scalable LLM "
    "Training, arXiv:2502.06742",
    reference="paper's algorithm (Scetbon et al., SinkGD: L alternating SR-Sinkhorn "
    "normalizations of output and input norms to sqrt(fan_in), sqrt(fan_out)).",
  )
)
register(
  Entry(
    name="scale",
    factory=scale,
    defaults={"learning_rate": 1e-3, "b1": 0.9, "weight_decay": 0.0},
    search_space={"learning_rate": _LR},
    ids=("T2-33",),
    tier=2,
    source="project",
    paper="Glentis et al., A Minimalist Optimizer Design for LLM Pretraining, arXiv:2506.16659",
    reference="paper (Glentis et al., SCALE: column-wise normalization of the (out, in) gradient "
    "= each input row of our (in, out) kernel, momentum on the last layer only).",
  )
)
register(
  Entry(
    name="mars_shampoo",
    factory=mars_shampoo,
    defaults={"learning_rate": 3e-3, "b1": 0.95, "gamma": 0.025, "weight_decay": 0.0},
    search_space={"learning_rate": _LR, "gamma": LogRange(1e-3, 0.1)},
    ids=("T2-34",),
    tier=2,
    source="project",
    paper="Yuan et al., MARS: Unleashing the Power of Variance Reduction for Training Large "
    "Models, arXiv:2411.10438",
    reference="paper (Yuan et al., MARS-Shampoo / MARS-approx: variance-reduced c_t clipped to "
    "norm 1, Newton-Schulz orthogonalization of the momentum as the accumulation-free Shampoo "
    "preconditioner).",
  )
)
_RIEMANNIAN_PAPER = "Bécigneul & Ganea, Riemannian Adaptive Optimization Methods, arXiv:1810.00760"
_RIEMANNIAN_REFERENCE = (
  "paper Alg. 1 (Becigneul & Ganea: RAdam / RAMSGrad / RAdagrad on a product of manifolds, one "
  "second-moment scalar per row, the momentum carried by the manifold's transport); "
  "euclidean is Adam (AMSGrad, AdaGrad) with one second moment per row."
)
for _name, _factory, _defaults in (
  ("riemannian_adam", riemannian_adam, {"b1": 0.9, "b2": 0.999, "eps": 1e-8}),
  ("riemannian_amsgrad", riemannian_amsgrad, {"b1": 0.9, "b2": 0.999, "eps": 1e-8}),
  ("riemannian_adagrad", riemannian_adagrad, {"eps": 1e-8}),
):
  register(
    Entry(
      name=_name,
      factory=_factory,
      defaults={"learning_rate": 1e-2, "manifold": "euclidean", **_defaults},
      search_space={"learning_rate": _ADAPTIVE_LR},
      ids=("T2-36",),
      tier=2,
      source="project",
      paper=_RIEMANNIAN_PAPER,
      reference=_RIEMANNIAN_REFERENCE,
    )
  )
register(
  Entry(
    name="poet",
    factory=poet,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "merge_every": 200,
      "neumann_terms": None,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": LogRange(1e-4, 1e-1), "merge_every": Choice((50, 200, 1000))},
    ids=("T2-35",),
    tier=2,
    source="project",
    paper="Qiu et al., Reparameterized LLM Training via Orthogonal Equivalence Transformation, "
    "arXiv:2506.08001. Simplified: W0 is the parameters at init and R, P are full Cayley "
    "transforms of skew-symmetric generators (exact, or the paper's Cayley-Neumann series "
    "with neumann_terms), not the stochastic block primitives of its memory-efficient variant",
    reference="paper (Qiu et al., POET: W = R W0 P with Cayley-parameterized orthogonal R, P "
    "trained by Adam, merged every T steps). Kept: full Cayley transforms (exact, or Neumann "
    "terms) instead of the stochastic block primitives of the memory-efficient variant; W0 is the "
    "parameters at init.",
  )
)
