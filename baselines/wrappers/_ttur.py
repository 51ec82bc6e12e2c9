"""TTUR: the two time-scale update rule for two-player games (GANs).

Each player of a game minimizes its own loss over its own parameters; the players update
simultaneously, each with its own learning rate (Heusel et al., 2017, Eq. 3-4):

    w_{n+1} = w_n - b(n) * (grad_w L_D(theta_n, w_n) + M_w)      (discriminator, fast)
    theta_{n+1} = theta_n - a(n) * (grad_theta L_G(theta_n, w_n) + M_theta)  (generator, slow)

with a(n) = o(b(n)): the discriminator tracks its best response to the slowly moving
generator, and the pair converges to a stationary local Nash equilibrium (Theorem 1). The
same holds for Adam as the update of each player (Theorem 2): in practice each player runs
Adam with its own constant learning rate (the authors' WGAN-GP code: discriminator 1e-4,
generator 3e-4, one critic step per generator step instead of five).

As an optax transform, TTUR takes the *simultaneous gradient* of the game, the pytree of
each player's gradient of its own loss with respect to its own parameters
(`tasks.games.simultaneous_grad`), and applies one optimizer per player: the leaves under
the top-level key `discriminator` get `learning_rate * ratio`, every other leaf (the
generator's) `learning_rate`. `ratio = 1` is the one time-scale rule. On a one-player
problem (no `discriminator` key) TTUR is its base optimizer at `learning_rate`.

References:
  Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter, GANs Trained by a Two Time-Scale
  Update Rule Converge to a Local Nash Equilibrium, NeurIPS 2017, arXiv:1706.08500.
"""

from __future__ import annotations

from typing import Literal

import jax
import optax

DISCRIMINATOR = "discriminator"
GENERATOR = "generator"


def player_labels(params, discriminator_key: str = DISCRIMINATOR):
  """`"discriminator"` for every leaf under the top-level key `discriminator_key`, else
  `"generator"`."""

  def label(path, _):
    first = path[0] if path else None
    name = getattr(first, "key", getattr(first, "name", None))
    return DISCRIMINATOR if name == discriminator_key else GENERATOR

  return jax.tree_util.tree_map_with_path(label, params)


def ttur(
  learning_rate: optax.ScalarOrSchedule,
  ratio: float = 1.0 / 3.0,
  base: Literal["adam", "sgd"] = "adam",
  b1: float = 0.5,
  b2: float = 0.999,
  eps: float = 1e-8,
  discriminator_key: str = DISCRIMINATOR,
) -> optax.GradientTransformation:
  """TTUR: the generator (every leaf not under `discriminator_key`) at `learning_rate`, the
  discriminator (the leaves under that top-level key) at `ratio * learning_rate`.

  Args:
    learning_rate: the generator's learning rate a.
    ratio: b / a, the discriminator's learning rate over the generator's (1: one
      time-scale; Theorem 1's regime is b >> a; the default 1/3 is the authors' WGAN-GP).
    base: each player's optimizer: `"adam"` (the paper's experiments; `b1`, `b2`, `eps`) or
      `"sgd"` (the rule of Theorem 1).
    b1, b2, eps: Adam's, for both players (b1 = 0.5 as in DCGAN).
    discriminator_key: the top-level key of the discriminator's parameters.

  Returns:
    An `optax.GradientTransformation` over the game's simultaneous gradient.

  Example:
    >>> opt = ttur(1e-4, ratio=3.0)  # generator 1e-4, discriminator 3e-4
  """
  if base not in ("adam", "sgd"):
    raise ValueError(f"ttur: base must be 'adam' or 'sgd', got {base!r}.")
  if callable(learning_rate):
    discriminator_lr = lambda count: ratio * learning_rate(count)
  else:
    discriminator_lr = ratio * learning_rate

  def player(lr):
    if base == "sgd":
      return optax.sgd(lr)
    return optax.adam(lr, b1=b1, b2=b2, eps=eps)

  return optax.partition(
    {GENERATOR: player(learning_rate), DISCRIMINATOR: player(discriminator_lr)},
    lambda params: player_labels(params, discriminator_key),
  )
