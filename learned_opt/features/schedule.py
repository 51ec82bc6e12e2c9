"""Global features: where training is (step embeddings, fraction of the horizon) and how
the loss moves.

    step_tanh_τ            tanh(t / τ), t the number of updates so far, τ in STEP_SCALES
    train_frac             t / num_steps (needs the horizon `num_steps`)
    loss_log_ratio_first   clip(log L_t - log L_1, -10, 10)
    loss_log_ratio_ema     clip(log L_t - E_{t-1}, -10, 10), E the EMA at 0.9 of log L
                           started at log L_1 (needs the loss `value`)

Losses enter as log(max(L, 1e-8)): rules that read them assume a positive loss. The step
embeddings follow the training-step features of VeLO (Metz et al., arXiv:2211.09760).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from learned_opt.features.base import Feature, ema

STEP_SCALES = (1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000)


class LossStats(NamedTuple):
  """Global loss statistics: log of the first loss, EMA at 0.9 of the log loss."""

  first: jax.Array
  ema: jax.Array


def init_loss_stats() -> LossStats:
  return LossStats(jnp.zeros([], jnp.float32), jnp.zeros([], jnp.float32))


def loss_inputs(
  stats: LossStats, value: jax.Array, count: jax.Array
) -> tuple[dict[str, jax.Array], LossStats]:
  """The global loss inputs of this step, and the statistics after it."""
  log_loss = jnp.log(jnp.maximum(jnp.asarray(value, jnp.float32), 1e-8))
  first = jnp.where(count == 0, log_loss, stats.first)
  previous = jnp.where(count == 0, log_loss, stats.ema)
  glob = {"log_loss": log_loss, "log_loss_first": first, "log_loss_ema": previous}
  return glob, LossStats(first, ema(previous, log_loss, 0.9))


def _step_feature(scale: int) -> Feature:
  return Feature(
    f"step_tanh_{scale}",
    lambda x: jnp.tanh(x.count.astype(jnp.float32) / scale),
    scope="global",
    doc=f"tanh(t / {scale})",
  )


FEATURES = (
  *(_step_feature(s) for s in STEP_SCALES),
  Feature(
    "train_frac",
    lambda x: x.count.astype(jnp.float32) / jnp.maximum(x.glob["num_steps"], 1),
    scope="global",
    needs=("num_steps",),
    doc="fraction of the horizon done",
  ),
  Feature(
    "loss_log_ratio_first",
    lambda x: jnp.clip(x.glob["log_loss"] - x.glob["log_loss_first"], -10.0, 10.0),
    scope="global",
    needs=("value",),
    doc="log of the loss over the first loss",
  ),
  Feature(
    "loss_log_ratio_ema",
    lambda x: jnp.clip(x.glob["log_loss"] - x.glob["log_loss_ema"], -10.0, 10.0),
    scope="global",
    needs=("value",),
    doc="log of the loss over its recent (EMA 0.9) level",
  ),
)
