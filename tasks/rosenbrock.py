"""The Rosenbrock function in `dim` dimensions, a curved narrow valley:

    f(x) = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2,   minimum 0 at x = (1, ..., 1),

started from the classic point (-1.2, 1, -1.2, 1, ...) plus `init_noise` * N(0, I). With
`noise` > 0 the target moves per batch (x - noise * z replaces x, z ~ N(0, I)).
`normalize` is log(1 + f) / log(1 + f(start)): 1 at the classic start, 0 at the minimum.
`RosenbrockFamily` draws members of one dimension with random start noise and target noise.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from tasks.base import GaussianSampler, Task, TaskFamily, check_split


@dataclasses.dataclass(frozen=True)
class Rosenbrock(Task):
  dim: int = 2
  noise: float = 0.0
  init_noise: float = 0.1
  name: str = "rosenbrock"

  def start(self) -> jax.Array:
    return jnp.where(jnp.arange(self.dim) % 2 == 0, -1.2, 1.0)

  def value(self, x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

  def init(self, key):
    return {"x": self.start() + self.init_noise * jax.random.normal(key, (self.dim,))}

  def loss(self, params, key, batch):
    del key
    return self.value(params["x"] - self.noise * batch["noise"])

  def batches(self, split):
    check_split(split)
    return GaussianSampler((self.dim,))

  def normalize(self, loss):
    return jnp.log1p(loss) / jnp.log1p(self.value(self.start()))


@dataclasses.dataclass(frozen=True)
class RosenbrockFamily(TaskFamily):
  """Rosenbrock functions of one dimension; a member draws `init_noise` and `noise` uniformly
  from their ranges (the valley's shape is fixed: only where it starts and how noisy the
  gradient is vary)."""

  dim: int = 2
  init_noise: tuple[float, float] = (0.0, 0.5)
  noise: tuple[float, float] = (0.0, 0.1)
  name: str = "rosenbrock"

  def sample(self, key):
    k_init, k_noise = jax.random.split(key)
    return {
      "init_noise": jax.random.uniform(
        k_init, (), minval=self.init_noise[0], maxval=self.init_noise[1]
      ),
      "noise": jax.random.uniform(k_noise, (), minval=self.noise[0], maxval=self.noise[1]),
    }

  def task(self, cfg):
    return Rosenbrock(dim=self.dim, name=self.name, **cfg)

  def batches(self, split):
    return Rosenbrock(dim=self.dim).batches(split)
