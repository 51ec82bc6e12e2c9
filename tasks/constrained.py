"""Equality-constrained least squares: tasks with a constraint function c(params) = 0.

Both tasks minimize the least-squares loss of a fixed design (`seed` draws it; no files)

    f(x) = 1/(2n) ||M x - y - sigma z||^2,   z ~ N(0, I) drawn per batch (sigma = `noise`),

subject to `constraint(params) = 0` (a vector of m values), which the optimizers that need it
receive as the extra arg `constraint_fn` (`tasks.training.has_constraints`):

- `LinearConstrainedLeastSquares`: params {"x": (dim,)}, m linear constraints A x = b. Its
  KKT point (x*, lambda*) solves [MᵀM/n, Aᵀ; A, 0] [x; lambda] = [Mᵀy/n; b] (`kkt_solution`).
- `SphereLeastSquares`: params {"x": (rows, dim)}, each row on the unit sphere,
  c_i = ||x_i||^2 - 1, with f summed over the rows (row i fits column i of the targets). The
  start is on the spheres, so `riemannian_adam(manifold="sphere")`, which moves each row of a
  matrix along its sphere, trains it too and stays feasible.

The targets y come from a planted x_true (columns of norm about 1.5) plus noise; x_true
violates the constraints, so they are active at the solution. Losses are normalized by
f(0) = ||y||^2 / (2n) (clipped at 1.5).
"""

from __future__ import annotations

import abc
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from tasks.base import GaussianSampler, Task, check_split


@dataclasses.dataclass(frozen=True)
class ConstrainedTask(Task):
  """A least-squares task with equality constraints; subclasses set `init` and `constraint`."""

  dim: int = 8
  num_examples: int = 24
  noise: float = 0.0
  seed: int = 0
  name: str = "constrained"

  def _columns(self) -> int:
    return 1

  def design(self) -> tuple[jax.Array, jax.Array]:
    """The fixed design M [n, dim] and targets y [n, columns] of `seed`."""
    k_m, k_x, k_e = jax.random.split(jax.random.PRNGKey(self.seed), 3)
    m = jax.random.normal(k_m, (self.num_examples, self.dim))
    x_true = 1.5 * jax.random.normal(k_x, (self.dim, self._columns())) / self.dim**0.5
    noise = 0.1 * jax.random.normal(k_e, (self.num_examples, self._columns()))
    return m, m @ x_true + noise

  def _residuals(self, x: jax.Array, batch) -> jax.Array:
    """M X - y - sigma z with X the parameters as [dim, columns]."""
    m, y = self.design()
    return m @ x - y - self.noise * batch["noise"]

  def batches(self, split):
    check_split(split)
    return GaussianSampler((self.num_examples, self._columns()))

  def normalize(self, loss):
    """loss / f(0): 1 at the zero parameters; clipped at 1.5."""
    _, y = self.design()
    return jnp.minimum(loss / (0.5 * jnp.sum(y**2) / self.num_examples), 1.5)

  @abc.abstractmethod
  def constraint(self, params) -> jax.Array:
    """c(params), a vector that is 0 where the parameters are feasible."""


@dataclasses.dataclass(frozen=True)
class LinearConstrainedLeastSquares(ConstrainedTask):
  """Least squares subject to `num_constraints` linear constraints A x = b (module docstring)."""

  num_constraints: int = 3
  name: str = "linear_constrained_lsq"

  def constraint_system(self) -> tuple[jax.Array, jax.Array]:
    """A [m, dim] and b [m] of `seed`."""
    k_a, k_b = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(self.seed), 1))
    a = jax.random.normal(k_a, (self.num_constraints, self.dim))
    return a, jax.random.normal(k_b, (self.num_constraints,))

  def init(self, key):
    return {"x": jax.random.normal(key, (self.dim,))}

  def loss(self, params, key, batch):
    del key
    r = self._residuals(params["x"][:, None], batch)
    return 0.5 * jnp.sum(r**2) / self.num_examples

  def constraint(self, params):
    a, b = self.constraint_system()
    return a @ params["x"] - b

  def kkt_solution(self) -> tuple[np.ndarray, np.ndarray]:
    """(x*, lambda*) of the noise-free problem, in float64 numpy: the stationary point of
    f(x) + lambdaᵀ(A x - b)."""
    m, y = (np.asarray(v, np.float64) for v in self.design())
    a, b = (np.asarray(v, np.float64) for v in self.constraint_system())
    n, k = self.num_examples, self.num_constraints
    kkt = np.block([[m.T @ m / n, a.T], [a, np.zeros((k, k))]])
    sol = np.linalg.solve(kkt, np.concatenate([m.T @ y[:, 0] / n, b]))
    return sol[: self.dim], sol[self.dim :]


@dataclasses.dataclass(frozen=True)
class SphereLeastSquares(ConstrainedTask):
  """Least squares with each of `rows` parameter rows on the unit sphere (module docstring)."""

  rows: int = 2
  name: str = "sphere_lsq"

  def _columns(self) -> int:
    return self.rows

  def init(self, key):
    x = jax.random.normal(key, (self.rows, self.dim))
    return {"x": x / jnp.linalg.norm(x, axis=-1, keepdims=True)}

  def loss(self, params, key, batch):
    del key
    r = self._residuals(params["x"].T, batch)
    return 0.5 * jnp.sum(r**2) / self.num_examples

  def constraint(self, params):
    return jnp.sum(params["x"] ** 2, axis=-1) - 1.0
