"""Two-player games: each player minimizes its own loss over its own parameters.

The setting of TTUR (`baselines.ttur`): a game's parameters are `{"generator": ...,
"discriminator": ...}`; `simultaneous_grad` gives each player's gradient of its own loss
with respect to its own parameters, the pytree a two-player optimizer updates;
`game_run` (pure, jittable; `train_game` jits it) runs one optimizer over it as one
`lax.scan` and records the distance to the game's known local Nash equilibrium.

- `Saddle`: the TTUR authors' toy (bioinf-jku/TTUR, Toy_Data_Example): f(x, y) =
  (1 + x^2)(100 - y^2), the generator x minimizes f, the discriminator y maximizes it; the
  local Nash equilibrium is the saddle (0, 0) (assumption A4 of the paper holds). The
  gradients carry Gaussian noise of standard deviation `noise` (a stochastic gradient).
- `LinearCriticGAN`: a Wasserstein GAN on an offline image dataset with a linear critic
  D(x) = <w, x> under an L2 penalty: the generator is a location theta (samples theta +
  `spread` * z), L_D = -(mean D(real) - mean D(fake)) + decay/2 |w|^2, L_G = -mean D(fake).
  The critic's best response is w*(theta) = (mean_real - theta) / decay, and the local
  Nash equilibrium is theta* = the data mean, w* = 0: a GAN whose answer is known. With
  plain gradient steps the one time-scale rule at rate eta converges only for eta < decay
  (the linearized map has |1 + lambda|^2 = 1 - eta * decay + eta^2), while a slower
  generator under a discriminator at eta < 2 / decay converges.
"""

from __future__ import annotations

import abc
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tasks import datasets
from tasks.base import ArraySampler

PLAYERS = ("generator", "discriminator")


class Game(abc.ABC):
  """A two-player game over `{"generator": ..., "discriminator": ...}` parameters."""

  @abc.abstractmethod
  def init(self, key) -> dict:
    """The starting parameters of both players."""

  @abc.abstractmethod
  def losses(self, params, key, data) -> dict:
    """`{player: loss}`: each player's loss at `params` on a draw from `key` and `data`."""

  @abc.abstractmethod
  def distance(self, params, data) -> jax.Array:
    """The Euclidean distance of `params` to the game's local Nash equilibrium (of the
    generator's parameters where the discriminator's equilibrium is only reached up to
    batch noise)."""

  def data(self):
    """The arrays the losses read (a pytree passed to the jitted loop), or None."""
    return None


def simultaneous_grad(game: Game, params, key, data) -> tuple[dict, dict]:
  """`(losses, grads)`: grads[p] = d losses[p] / d params[p] for each player p."""

  def own(player):
    def loss(own_params):
      return game.losses({**params, player: own_params}, key, data)[player]

    return jax.value_and_grad(loss)(params[player])

  out = {p: own(p) for p in PLAYERS}
  return {p: v for p, (v, _) in out.items()}, {p: g for p, (_, g) in out.items()}


def game_run(
  game: Game, optimizer: optax.GradientTransformation, data, key, *, num_steps: int
) -> dict[str, jax.Array]:
  """Simultaneous updates of both players by `optimizer` (over the game's simultaneous
  gradient) for `num_steps` steps from `game.init`: a pure, jittable `lax.scan` (the
  optimizer may be built from traced values, so that settings and seeds vmap).

  Returns:
    `distance` [num_steps + 1]: `game.distance` before the first step and after each step;
    `generator_loss`, `discriminator_loss` [num_steps]: the players' losses before each step.
  """
  k_init, k_steps = jax.random.split(key)
  params = game.init(k_init)

  def step(carry, k):
    p, s = carry
    losses, grads = simultaneous_grad(game, p, k, data)
    updates, s = optimizer.update(grads, s, p)
    p = optax.apply_updates(p, updates)
    return (p, s), (game.distance(p, data), losses)

  _, (dist, losses) = jax.lax.scan(
    step, (params, optimizer.init(params)), jax.random.split(k_steps, num_steps)
  )
  out = {"distance": jnp.concatenate([game.distance(params, data)[None], dist])}
  out.update({f"{p}_loss": v for p, v in losses.items()})
  return out


def train_game(
  game: Game, optimizer: optax.GradientTransformation, *, num_steps: int, seed: int = 0
) -> dict[str, np.ndarray]:
  """`game_run` from `PRNGKey(seed)`, jitted; the distance is inf from its first
  non-finite value on (a diverged run)."""
  run = jax.jit(lambda data, key: game_run(game, optimizer, data, key, num_steps=num_steps))
  out = {
    k: np.asarray(v, np.float64) for k, v in run(game.data(), jax.random.PRNGKey(seed)).items()
  }
  bad = ~np.isfinite(out["distance"])
  if bad.any():
    out["distance"][np.argmax(bad) :] = np.inf
  return out


@dataclasses.dataclass(frozen=True)
class Saddle(Game):
  """The TTUR authors' toy game f(x, y) = (1 + x^2)(100 - y^2), from (x0, y0)."""

  noise: float = 0.1
  x0: float = 1.0
  y0: float = 1.0

  def init(self, key) -> dict:
    del key
    return {"generator": jnp.asarray(self.x0), "discriminator": jnp.asarray(self.y0)}

  def losses(self, params, key, data) -> dict:
    del data
    x, y = params["generator"], params["discriminator"]
    f = (1.0 + x**2) * (100.0 - y**2)
    # A random linear term: the gradient of each player's loss gets N(0, noise^2) noise.
    zx, zy = self.noise * jax.random.normal(key, (2,))
    return {"generator": f + zx * x, "discriminator": -f + zy * y}

  def distance(self, params, data) -> jax.Array:
    del data
    return jnp.hypot(params["generator"], params["discriminator"])


@dataclasses.dataclass(frozen=True)
class LinearCriticGAN(Game):
  """A WGAN with an L2-penalized linear critic on `dataset` images (flattened, [0, 1])."""

  dataset: str = "digits"
  batch_size: int = 32
  decay: float = 1.0
  spread: float = 0.1

  def data(self) -> ArraySampler:
    x, _ = datasets.images(self.dataset, "train")
    return ArraySampler({"x": jnp.asarray(x.reshape(len(x), -1))}, self.batch_size)

  def init(self, key) -> dict:
    dim = int(np.prod(datasets.image_shape(self.dataset)))
    return {"generator": jnp.zeros((dim,)), "discriminator": 0.01 * jax.random.normal(key, (dim,))}

  def losses(self, params, key, data) -> dict:
    k_real, k_fake = jax.random.split(key)
    real = data.sample(k_real)["x"]
    theta, w = params["generator"], params["discriminator"]
    fake = theta + self.spread * jax.random.normal(k_fake, real.shape)
    d_fake = jnp.mean(fake @ w)
    critic = -(jnp.mean(real @ w) - d_fake) + 0.5 * self.decay * jnp.sum(w**2)
    return {"generator": -d_fake, "discriminator": critic}

  def distance(self, params, data) -> jax.Array:
    # The generator's distance to the data mean; the critic's equilibrium w* = 0 is
    # reached only up to the noise of the batch means it is fitted to.
    return jnp.linalg.norm(params["generator"] - jnp.mean(data.arrays["x"], axis=0))
