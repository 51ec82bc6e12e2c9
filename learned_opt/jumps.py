"""`jump_every`: run a base optimizer and, every `every` steps, jump to predicted parameters.

The wrapper of NiNo (Knyazev et al., ICLR 2025, arXiv:2409.04434) and of weight nowcasting
(Jang et al., ICML 2023): the base optimizer (Adam in the papers) takes every step; the
parameters after every `every // context`-th step are kept as snapshots, the newest
`context` of them in a window (oldest first); after every `every`-th step the parameters
become `predict(window)`, the predictor's forecast of where the base optimizer is heading:

    p_{t+1} = p_t + base_update_t                       (every step)
    window  = [p_{t+1-(c-1)s}, ..., p_{t+1-s}, p_{t+1}]  (s = every // c, kept every s steps)
    p_{t+1} <- predict(window)                          (when t + 1 is a multiple of every)

The base optimizer's state is kept across a jump. Between two jumps the window is refilled
entirely, so a prediction reads only the trajectory since the previous one.

A loss-guided jump (`scales`) goes as far along the predicted move as the loss allows: with
q = predict(window) and the candidates p_{t+1} + s (q - p_{t+1}) for s in `scales` (0: no
jump), the parameters become the candidate of least `value_fn` (the loss on the current
batch, which `update` then needs, as optax's line searches do). With 0 among the scales a
prediction that raises that loss is not taken; larger scales follow a prediction that points
the right way further than the predictor was trained to go. The current batch has just been
stepped on, which favours staying put (s = 0) over any jump. This is our addition; NiNo always
jumps to q.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax


class JumpEveryState(NamedTuple):
  count: jax.Array  # steps taken
  base: Any  # the base optimizer's state
  # Like params, each leaf [context, *shape]: a ring of snapshots, snapshot j (the
  # parameters after step j * spacing) in slot j % context.
  window: Any


def jump_every(
  base: optax.GradientTransformation,
  predict: Callable[[Any], Any],
  *,
  every: int,
  context: int,
  scales: Sequence[float] | None = None,
) -> optax.GradientTransformationExtraArgs:
  """`base`, with the parameters replaced by `predict(window)` every `every` steps.

  Args:
    base: the optimizer that takes every step (e.g. `optax.adam(1e-3)`).
    predict: `window -> params`, where each leaf of `window` is `[context, *shape]`, the
      snapshots oldest first (e.g. a NiNo nowcaster's `Nino.predictor(theta, ahead)`, or
      `linear_extrapolation(ahead)`).
    every: steps between jumps; a multiple of `context`.
    context: snapshots the predictor reads, `every // context` steps apart.
    scales: for a loss-guided jump, the multiples of the predicted move to try (e.g.
      `(1, 2, 4)`, or `(0, 0.5, 1, 2, 4)` to allow staying put); `update` then needs
      `value_fn` (params -> loss on the current batch). None: always jump to the prediction.

  Extra keyword arguments of `update` go to `base`; `params` is required.
  """
  if context < 1 or every < context or every % context:
    raise ValueError(
      f"jump_every needs every (got {every}) to be a positive multiple of context (got "
      f"{context}): the context snapshots are every // context steps apart."
    )
  check_scales(scales, "jump_every's scales")
  base = optax.with_extra_args_support(base)
  spacing = every // context

  def init_fn(params):
    window = jax.tree.map(lambda p: jnp.broadcast_to(p, (context, *p.shape)), params)
    return JumpEveryState(jnp.zeros([], jnp.int32), base.init(params), window)

  def update_fn(updates, state, params=None, **extra_args):
    if params is None:
      raise ValueError("jump_every moves the parameters: call `update(grads, state, params)`.")
    state = JumpEveryState(*state)  # wrappers (flax nnx) may hand the tuple back as a sequence
    base_updates, base_state = base.update(updates, state.base, params, **extra_args)
    stepped = optax.apply_updates(params, base_updates)
    count = state.count + 1
    # Every step overwrites the slot of the snapshot being formed (ceil(count / spacing));
    # its last write, after step j * spacing, is snapshot j. One in-place slice per step.
    slot = ((count + spacing - 1) // spacing) % context
    window = jax.tree.map(
      lambda w, p: jax.lax.dynamic_update_index_in_dim(w, p, slot, 0), state.window, stepped
    )
    # A jump follows snapshot j = count / spacing, a multiple of context: it sits in slot 0,
    # so the ring rolled by one is oldest first.
    value_fn = extra_args.get("value_fn")
    if scales is not None and value_fn is None:
      raise ValueError(
        "a loss-guided jump (scales) compares the loss of its candidates: call "
        "`update(grads, state, params, value_fn=loss_of_params)`."
      )

    def jump():
      predicted = predict(jax.tree.map(lambda w: jnp.roll(w, -1, axis=0), window))
      if scales is None:
        return predicted
      return guided(stepped, predicted, value_fn, scales)

    new_params = jax.lax.cond(count % every == 0, jump, lambda: stepped)
    new_updates = jax.tree.map(lambda n, p: (n - p).astype(p.dtype), new_params, params)
    return new_updates, JumpEveryState(count, base_state, window)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def check_scales(scales: Sequence[float] | None, name: str = "scales") -> None:
  """A `ValueError` unless `scales` is None or a non-empty sequence of non-negative numbers."""
  if scales is not None and (not scales or not all(s >= 0 for s in scales)):
    raise ValueError(f"{name} must be non-negative numbers, got {scales}.")


def guided(
  current: Any, predicted: Any, value_fn: Callable[[Any], jax.Array], scales: Sequence[float]
) -> Any:
  """`current + s (predicted - current)` for the s of `scales` of least `value_fn` (non-finite
  losses never chosen; ties go to the smaller s)."""
  candidates = tuple(sorted(set(map(float, scales))))
  move = jax.tree.map(lambda q, p: q - p, predicted, current)
  at = lambda s: jax.tree.map(lambda p, d: p + (s * d).astype(p.dtype), current, move)
  losses = jnp.stack([jnp.asarray(value_fn(at(s)), jnp.float32) for s in candidates])
  losses = jnp.where(jnp.isfinite(losses), losses, jnp.inf)
  return at(jnp.asarray(candidates, jnp.float32)[jnp.argmin(losses)])


def linear_extrapolation(ahead: float) -> Callable[[Any], Any]:
  """The predictor that extends the window's mean slope by `ahead` snapshot spacings:
  `p_last + ahead * (p_last - p_first) / (context - 1)` (no change when context is 1)."""

  def predict(window):
    def one(w):
      if w.shape[0] < 2:
        return w[-1]
      return w[-1] + ahead * (w[-1] - w[0]) / (w.shape[0] - 1)

    return jax.tree.map(one, window)

  return predict
