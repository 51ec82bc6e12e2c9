"""Registry entries of the factored, memory-saving and quantized-state optimizers
(inventory T2-01 to T2-10 and T2-22 to T2-24).

Adafactor, SM3 and LOMO are optax's own (or thin factories fixing its arguments); the rest live
in their own `_<name>.py` files beside this one, the factored ones on `factored.py`. The entry
format is in the module docstring of `baselines.registry`.
"""

from __future__ import annotations

import optax

from baselines.memory._adalomo import adalomo
from baselines.memory._adam8bit import adam8bit
from baselines.memory._adam_fp8 import adam_fp8
from baselines.memory._adam_mini import adam_mini
from baselines.memory._came import came
from baselines.memory._coupled_adam import coupled_adam
from baselines.memory._microadam import microadam
from baselines.memory._slimadam import slimadam
from baselines.memory._smmf import smmf
from baselines.memory._subset_norm import subset_norm
from baselines.registry import Choice, Entry, LogRange, register

_ADAPTIVE_LR = LogRange(1e-5, 1e-1)
_WIDE_LR = LogRange(1e-4, 1.0)


def lomo(
  learning_rate: optax.ScalarOrSchedule,
  *,
  clip_grad_norm: float | None = None,
  weight_decay: float = 0.0,
) -> optax.GradientTransformation:
  """LOMO's update rule, from optax pieces: SGD, optionally after global-norm clipping.

  p <- p - lr (clip(g) + weight_decay p). LOMO's contribution is executing this update
  inside the backward pass, so that no full set of gradients is ever held (clipping then
  takes a second backward pass for the norm). That is how the step is run, not a different
  rule: in JAX, jit gradient and update together with donated buffers and XLA frees each
  gradient after its use.

  Lv et al., Full Parameter Fine-tuning for Large Language Models with Limited Resources,
  https://arxiv.org/abs/2306.09782
  """
  if clip_grad_norm is not None and not clip_grad_norm > 0:
    raise ValueError(f"clip_grad_norm must be None or > 0, got {clip_grad_norm}.")
  return optax.chain(
    optax.clip_by_global_norm(clip_grad_norm) if clip_grad_norm else optax.identity(),
    optax.add_decayed_weights(weight_decay),
    optax.sgd(learning_rate),
  )


register(
  Entry(
    name="adafactor",
    factory=optax.adafactor,
    defaults={
      "learning_rate": 1e-2,
      "decay_rate": 0.8,
      "clipping_threshold": 1.0,
      "multiply_by_parameter_scale": True,
      "min_dim_size_to_factor": 128,
    },
    search_space={"learning_rate": LogRange(1e-4, 1.0)},
    ids=("T2-01",),
    tier=2,
    source="optax",
    paper="Shazeer & Stern, Adafactor: Adaptive Learning Rates with Sublinear Memory Cost, "
    "arXiv:1804.04235",
  )
)
register(
  Entry(
    name="came",
    factory=came,
    defaults={
      "learning_rate": 2e-4,
      "b1": 0.9,
      "b2": 0.999,
      "b3": 0.9999,
      "eps1": 1e-30,
      "eps2": 1e-16,
      "clipping_threshold": 1.0,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": LogRange(1e-4, 1e-1)},
    ids=("T2-02",),
    tier=2,
    source="project",
    paper="Luo et al., CAME: Confidence-guided Adaptive Memory Efficient Optimization, "
    "arXiv:2307.02047",
    reference="authors' code yangluo7/CAME (came_pytorch/CAME.py), checked exact in issue 18's "
    "independent review: factored v, confidence-guided factored residual, RMS clip.",
  )
)
register(
  Entry(
    name="sm3",
    factory=optax.sm3,
    defaults={"learning_rate": 0.1, "momentum": 0.9},
    search_space={"learning_rate": _WIDE_LR},
    ids=("T2-03",),
    tier=2,
    source="optax",
    paper="Anil, Gupta, Koren & Singer, Memory-Efficient Adaptive Optimization, arXiv:1901.11150",
  )
)
register(
  Entry(
    name="smmf",
    factory=smmf,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "growth_rate": 0.999,
      "decay_rate": -0.5,
      "eps": 1e-8,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _ADAPTIVE_LR, "decay_rate": Choice((-0.5, -0.8))},
    ids=("T2-04",),
    tier=2,
    source="project",
    paper="Park & Lee, SMMF: Square-Matricized Momentum Factorization for Memory-Efficient "
    "Optimization, arXiv:2412.08894",
    reference="paper's algorithm (square-matricization, rank-1 NNMF of |M| and V, 1-bit signs of "
    "M, beta_1t = beta_1 lambda^(t-1), beta_2t = 1 - t^gamma, no bias correction).",
  )
)
register(
  Entry(
    name="lomo",
    factory=lomo,
    defaults={"learning_rate": 1e-2, "clip_grad_norm": None, "weight_decay": 0.0},
    search_space={"learning_rate": _WIDE_LR},
    ids=("T2-05",),
    tier=2,
    source="optax",
    paper="Lv et al., Full Parameter Fine-tuning for Large Language Models with Limited "
    "Resources, arXiv:2306.09782",
  )
)
register(
  Entry(
    name="adalomo",
    factory=adalomo,
    defaults={
      "learning_rate": 1e-3,
      "decay_rate": 0.8,
      "eps1": 1e-30,
      "eps2": 1e-3,
      "clipping_threshold": 1.0,
      "scale_parameter": True,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _WIDE_LR},
    ids=("T2-06",),
    tier=2,
    source="project",
    paper="Lv et al., AdaLomo: Low-memory Optimization with Adaptive Learning Rate, "
    "arXiv:2310.10195",
    reference="paper's algorithm (factored v with beta_t = 1 - t^-0.8, RMS clip of the update, "
    "grouped update normalization by max(eps2, RMS(theta))); defaults as the authors' AdaLomo "
    "class (OpenLMLab/LOMO: lr 1e-3, eps (1e-30, 1e-3), clip 1.0, decay -0.8). Kept: no fused "
    "backward (a property of the execution, not of the rule) and no loss scaling.",
  )
)
register(
  Entry(
    name="adam_mini",
    factory=adam_mini,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "weight_decay": 0.1,
      "embedding": "token",
    },
    search_space={"learning_rate": _ADAPTIVE_LR, "weight_decay": LogRange(1e-4, 1e-1)},
    ids=("T2-07",),
    tier=2,
    source="project",
    paper="Zhang et al., Adam-mini: Use Fewer Learning Rates To Gain More, arXiv:2406.16793",
    reference="authors' code zyushun/Adam-mini@adam_mini/adam_mini.py (v1.1.1: one block per "
    "output neuron of kernels, per token of embeddings (embedding='adam': the paper's first "
    "version, full Adam), full Adam for biases, one block for norms; no weight decay on "
    "vectors). Deviations kept: blocks come from layouts and names (baselines.axes), not the "
    "authors' name lists, so position tables are per row (their list sends GPT-2's wpe to "
    "one block) and Q/K are per neuron unless routed per head by the user",
  )
)
register(
  Entry(
    name="slimadam",
    factory=slimadam,
    defaults={
      "learning_rate": 1e-3,
      "compress": "fan_in",
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _ADAPTIVE_LR, "compress": Choice(("fan_in", "fan_out"))},
    ids=("T2-08",),
    tier=2,
    source="project",
    paper="Kalra, Barkeshli et al., When Can You Get Away with Low Memory Adam?, arXiv:2503.01843",
    reference="paper (Kalra, Barkeshli et al.: Adam with v averaged along the fan-in or fan-out "
    "axes; the snr helper measures the paper's SNR rule). Kept: one compression axis for every "
    "matrix by default (fan_in) instead of the per-layer choice from a pilot run; pass "
    "compress=callable for it.",
  )
)
register(
  Entry(
    name="coupled_adam",
    factory=coupled_adam,
    defaults={
      "learning_rate": 1e-3,
      "mask": None,
      "vocab_axis": 0,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T2-09",),
    tier=2,
    source="project",
    paper="Stollenwerk & Stollenwerk, Better Embeddings with Coupled Adam, arXiv:2502.08441",
    reference="paper (Stollenwerk & Stollenwerk: the embedding's v averaged over the vocabulary, "
    "every other tensor Adam). Fixed here: the default mask coupled every 2-D tensor (dense "
    "kernels too); now the tensors baselines.axes reads as embeddings.",
  )
)
register(
  Entry(
    name="subset_norm",
    factory=subset_norm,
    defaults={"learning_rate": 1e-2, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
    search_space={"learning_rate": LogRange(1e-4, 1.0)},
    ids=("T2-10",),
    tier=2,
    source="project",
    paper="Nguyen, Nguyen & Ene, Efficient Adaptive Optimization via Subset-Norm and "
    "Subspace-Momentum, arXiv:2411.07120",
    reference="paper (Nguyen, Nguyen & Ene, AdamSN: one v per subset, the squared norm of the "
    "gradient over the matrix's larger side; vectors keep Adam's v).",
  )
)
register(
  Entry(
    name="adam8bit",
    factory=adam8bit,
    defaults={
      "learning_rate": 1e-3,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "weight_decay": 0.0,
      "block_size": 2048,
      "min_8bit_size": 4096,
    },
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T2-22",),
    tier=2,
    source="project",
    paper="Dettmers, Lewis, Shleifer & Zettlemoyer, 8-bit Optimizers via Block-wise "
    "Quantization, arXiv:2110.02861",
    reference="paper (Dettmers et al.: block-wise dynamic tree quantization, block 2048, tensors "
    "under 4096 entries in float32, as bitsandbytes). Kept: the paper's stable embedding layer is "
    "a model change, left out.",
  )
)
register(
  Entry(
    name="adam_fp8",
    factory=adam_fp8,
    defaults={
      "learning_rate": 3e-4,
      "b1": 0.9,
      "b2": 0.95,
      "eps": 1e-8,
      "weight_decay": 0.1,
      "m_format": "e4m3",
      "v_format": "e5m2",
    },
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T2-23",),
    tier=2,
    source="project",
    paper="Fishman, Chmiel, Banner & Soudry, Scaling FP8 training to trillion-token LLMs, "
    "arXiv:2409.12517",
    reference="paper (Fishman et al.: first moment E4M3, second moment E5M2, one scale per "
    "tensor; LLM defaults b2 0.95, wd 0.1).",
  )
)
register(
  Entry(
    name="microadam",
    factory=microadam,
    defaults={
      "learning_rate": 1e-4,
      "b1": 0.9,
      "b2": 0.999,
      "eps": 1e-8,
      "window": 10,
      "density": 0.01,
      "weight_decay": 0.0,
    },
    search_space={"learning_rate": _ADAPTIVE_LR},
    ids=("T2-24",),
    tier=2,
    source="project",
    paper="Modoranu et al., MicroAdam: Accurate Adaptive Optimization with Low Space Overhead "
    "and Provable Convergence, arXiv:2405.15593",
    reference="paper's algorithm (error feedback with 4-bit quantized error, Top-K window of W "
    "gradients, moments rebuilt from the window). Kept: one min/max per tensor for the 4-bit "
    "quantizer (the authors quantize per bucket).",
  )
)
