"""Blockwise learning rates: one LR multiplier per Transformer block type (sharpness disparity).

The block type of every parameter comes from a label function (params -> pytree of labels);
`default_block_labels` reads the parameter's path names and ndim, and users pass their own
for other naming schemes. The multipliers are applied with `optax.partition`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import jax
import optax

BLOCK_TYPES = ("emb", "qk", "vo", "ffn", "norm", "other")

# The paper's tuned multipliers of the base LR (eta_Norm = eta, eta_VO = 4 eta, ...).
PAPER_RATIOS: Mapping[str, float] = {
  "emb": 10.0,
  "qk": 8.0,
  "ffn": 6.0,
  "vo": 4.0,
  "norm": 1.0,
  "other": 1.0,
}

_RULES = (  # checked in order against each path component (lower case)
  ("norm", re.compile(r"norm|^ln(_|\d|f|$)|^rms")),
  ("emb", re.compile(r"emb|^wte$|^wpe$|^tok_|^pos_")),
  ("qk", re.compile(r"^(query|key|q|k|wq|wk|q_proj|k_proj|to_q|to_k)$")),
  ("vo", re.compile(r"^(value|out|v|o|wv|wo|v_proj|o_proj|out_proj|to_v|to_out)$")),
  ("ffn", re.compile(r"mlp|ffn|feed_?forward|^fc\d*$|^(w1|w2|w3|up_proj|down_proj|gate_proj)$")),
)


def _names(path) -> list[str]:
  out = []
  for k in path:
    name = getattr(k, "key", getattr(k, "name", getattr(k, "idx", "")))
    out.append(str(name).lower())
  return out


def block_label(path_names: list[str], ndim: int) -> str:
  """The block type of one parameter from its path names (outermost first) and ndim.

  The innermost path component that matches decides (so `mlp/.../norm/scale` is `norm`);
  the rules, in order: `norm` (`*norm*`, `ln*`, `rms*`), `emb` (`*emb*`, `wte`, `wpe`), `qk`
  (`query`, `key`, `q_proj`, `k_proj`, `wq`, `wk`, ...), `vo` (`value`, `out`, `v_proj`,
  `o_proj`, `out_proj`, `wv`, `wo`, ...), `ffn` (`*mlp*`, `*ffn*`, `fc*`, `w1`-`w3`,
  `up/down/gate_proj`). A vector (ndim <= 1) named `scale` with no other match is `norm`;
  everything else is `other`.
  """
  for name in reversed(path_names):
    for label, rule in _RULES:
      if rule.search(name):
        return label
  if ndim <= 1 and path_names and path_names[-1] == "scale":
    return "norm"
  return "other"


def default_block_labels(params: optax.Params) -> Any:
  """Labels every parameter with its block type (see `block_label`)."""
  return jax.tree_util.tree_map_with_path(lambda path, p: block_label(_names(path), p.ndim), params)


def blockwise_lr(
  inner: optax.GradientTransformation,
  *,
  ratios: Mapping[str, float] = PAPER_RATIOS,
  label_fn: Callable[[optax.Params], Any] = default_block_labels,
) -> optax.GradientTransformationExtraArgs:
  r"""Scales the updates of `inner` by a per-block-type multiplier.

  For a parameter of block type $b$, $u \leftarrow r_b\, u$, which for optimizers whose
  update is proportional to the learning rate (AdamW with decoupled decay, Lion, SGD) is
  the learning rate $\eta_b = r_b\, \eta$ of the paper's Blockwise LR. The paper's tuned
  ratios (`PAPER_RATIOS`): Emb 10, QK 8, FFN 6, VO 4, Norm 1; other parameters keep 1.

  Args:
    inner: the optimizer (updates added to the parameters); extra args are forwarded.
    ratios: block type -> multiplier; every label `label_fn` produces needs an entry.
    label_fn: params -> pytree of block-type labels (strings); default
      `default_block_labels` (path names and ndim).

  Returns:
    An `optax.GradientTransformationExtraArgs`.

  References:
    Wang et al., The Sharpness Disparity Principle in Transformers for Accelerating Language
    Model Pre-Training, https://arxiv.org/abs/2502.19002
  """
  bad = {k: v for k, v in ratios.items() if not v > 0}
  if bad:
    raise ValueError(f"ratios must be > 0, got {bad}.")
  ratios = dict(ratios)

  def checked_labels(params):
    labels = label_fn(params)
    missing = set(jax.tree.leaves(labels)) - set(ratios)
    if missing:
      raise ValueError(f"No ratio for block types {sorted(missing)}; ratios has {sorted(ratios)}.")
    return labels

  scale = optax.partition({k: optax.scale(v) for k, v in ratios.items()}, checked_labels)
  return optax.chain(optax.with_extra_args_support(inner), scale)


def blockwise_adamw(
  learning_rate: optax.ScalarOrSchedule,
  b1: float = 0.9,
  b2: float = 0.95,
  eps: float = 1e-8,
  weight_decay: float = 0.1,
  emb_ratio: float = 10.0,
  qk_ratio: float = 8.0,
  ffn_ratio: float = 6.0,
  vo_ratio: float = 4.0,
) -> optax.GradientTransformationExtraArgs:
  """AdamW with Blockwise LR (the paper's setting; Norm and other parameters at the base LR)."""
  ratios = {
    "emb": emb_ratio,
    "qk": qk_ratio,
    "ffn": ffn_ratio,
    "vo": vo_ratio,
    "norm": 1.0,
    "other": 1.0,
  }
  adamw = optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
  return blockwise_lr(adamw, ratios=ratios)
