"""Meta-gradient estimators: antithetic ES (PES, NRES, truncated ES), full ES, TBPTT, a mix.

An estimator owns a population of inner trainings and, per `grad` call, advances every
member by one truncation of K inner steps (`meta_train.unroll`), resets the members that
reached their horizon, and returns an estimate of the gradient of the meta-loss (the mean
normalized inner loss over the truncation) with respect to theta:

    state = est.init(theta, key);   meta_grad, state, metrics = est.grad(theta, state, key)

The population is one leading array axis of a `Population` (members, or pairs: each leaf
[pairs, 2, ...]), which `meta_train.sharding` splits over devices. Metrics always include
`meta_loss`, `num_nonfinite`, `num_resets` and `inner_steps`. A member (or pair) whose
losses or parameters turn non-finite contributes nothing, is counted in `num_nonfinite`,
and restarts at its next truncation; `meta_loss` is the mean over the finite ones, and NaN
when none is finite (a population that diverged whole is never logged as a loss of 0).

Antithetic ES (`AntitheticES`). Each pair runs two inner trainings from the same task,
initialization and batches, one with theta + eps, one with theta - eps, and

    g = mean over pairs of  w * (L(+) - L(-)) / (2 std^2),   eps ~ N(0, std^2 I)

(`baselines.perturbation`). The noise rule (`noise`) says which eps a pair runs with at its
truncation t, which perturbation w weights the loss difference, and what the pair remembers
between truncations (`Population.extra`):

  pes           eps_t new at every truncation; w = xi_t = sum of the eps_s since the reset
                (remembered). Unbiased for the gradient of the Gaussian-smoothed meta-loss of
                the whole inner training. Vicol, Metz & Sohl-Dickstein, Unbiased Gradient
                Estimation in Unrolled Computation Graphs with Persistent Evolution
                Strategies, ICML 2021, arXiv:2112.13835.
  nres          one eps per episode, drawn at the reset and reused (remembered); w = eps.
                Unbiased as PES (the particles' whole history used the same eps), with a
                variance that does not grow with the truncations since the reset. Li, Wu,
                Zhao, Sohl-Dickstein & Pang, Noise-Reuse in Online Evolution Strategies,
                NeurIPS 2023, arXiv:2304.12180.
  truncated_es  eps_t new at every truncation; w = eps_t; both particles start the
                truncation from the positive particle's state. Biased: it ignores how theta
                shaped that state, which is what PES corrects (Vicol et al., section 3).

Full ES (`FullES`) starts fresh pairs at every call and runs each for its whole horizon with
one eps; w = eps and L is the mean over the truncations, so nothing persists between calls.

TBPTT (`TBPTT`) backpropagates through one truncation with the state entering it held
constant; `Combined` mixes two estimators, weight * g_first + (1 - weight) * g_second.

`build(name, unroller, options)` makes an estimator from its config name (`ESTIMATORS`).
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding

from baselines import perturbation
from learned_opt import MetaParams
from meta_train.unroll import InnerState, Unroller, is_finite_tree, where_tree

UnrollState = Any
Metrics = dict[str, jax.Array]


# ---------------------------------------------------------------------------------------
# The interface, and the population every estimator but `Combined` keeps.
# ---------------------------------------------------------------------------------------


class Population(NamedTuple):
  """The state of an estimator's population.

  inner: `InnerState` with leading axis [members] (or [pairs, 2] for antithetic ES).
  extra: the estimator's own bookkeeping (PES's accumulated noise, NRES's episode noise).
  calls: how many times `grad` has advanced this population (drives horizon schedules).
  """

  inner: Any
  extra: Any
  calls: jax.Array


class Estimator(abc.ABC):
  """`init(theta, key) -> state`; `grad(theta, state, key) -> (meta_grad, state, metrics)`."""

  @abc.abstractmethod
  def init(self, theta: MetaParams, key: jax.Array) -> UnrollState:
    """A fresh population of inner trainings."""

  @abc.abstractmethod
  def grad(
    self, theta: MetaParams, state: UnrollState, key: jax.Array
  ) -> tuple[MetaParams, UnrollState, Metrics]:
    """The meta-gradient estimate at `theta`, the advanced population, and scalar metrics."""


class PopulationEstimator(Estimator):
  """An estimator over one `Unroller`'s family, compiled once.

  Concrete estimators are frozen dataclasses with a field `unroller`; they implement
  `init_population` and `estimate`, pure functions that receive the batch samplers as an
  argument. `init` and `grad` jit them and pass the samplers, so datasets are arguments of
  the compiled program, never baked-in constants.
  """

  unroller: Unroller

  @abc.abstractmethod
  def init_population(self, theta: MetaParams, key: jax.Array) -> Population:
    """A fresh population (pure; jitted by `init`)."""

  @abc.abstractmethod
  def estimate(
    self, theta: MetaParams, state: Population, key: jax.Array, samplers: Any
  ) -> tuple[MetaParams, Population, Metrics]:
    """One truncation of the population and the meta-gradient (pure; jitted by `grad`)."""

  def init(self, theta, key):
    return self._jitted_init(theta, key)

  def grad(self, theta, state, key):
    return self._jitted_estimate(theta, state, key, self._samplers)

  @functools.cached_property
  def _samplers(self):
    return self.unroller.samplers()

  @functools.cached_property
  def _jitted_init(self):
    return jax.jit(self.init_population)

  @functools.cached_property
  def _jitted_estimate(self):
    return jax.jit(self.estimate)


def masked_mean_metrics(
  grads: Any, losses: jax.Array, finite: jax.Array, resets: jax.Array, inner_steps: int
) -> tuple[Any, Metrics]:
  """Averages per-member gradients and losses over the finite members; counts the rest.

  With no finite member the gradient is 0 and the meta-loss NaN (unknown, not 0).
  """
  num_finite = jnp.sum(finite)
  denom = jnp.maximum(num_finite, 1)
  grad = jax.tree.map(lambda g: jnp.sum(g, axis=0) / denom, grads)
  mean_loss = jnp.sum(jnp.where(finite, losses, 0.0)) / denom
  metrics = {
    "meta_loss": jnp.where(num_finite > 0, mean_loss, jnp.nan),
    "num_nonfinite": finite.size - num_finite,
    "num_resets": jnp.sum(resets),
    "inner_steps": jnp.asarray(inner_steps),
  }
  return grad, metrics


# ---------------------------------------------------------------------------------------
# Antithetic pairs: the helpers full ES and the truncated estimators share.
# ---------------------------------------------------------------------------------------


def check_pairs(num_pairs: int, std: float) -> None:
  if num_pairs < 1:
    raise ValueError(f"num_pairs must be positive, got {num_pairs}.")
  if not std > 0:
    raise ValueError(f"std must be positive, got {std}.")


def pair_of(member: Any) -> Any:
  """The member twice, on a new leading axis of size 2 (+ then -)."""
  return jax.tree.map(lambda x: jnp.stack([x, x]), member)


def plus_minus(theta: MetaParams, eps: Any) -> MetaParams:
  """theta + eps and theta - eps, stacked on a new leading axis of size 2."""
  return jax.tree.map(
    lambda a, b: jnp.stack([a, b]),
    perturbation.shift(theta, eps),
    perturbation.shift(theta, eps, -1.0),
  )


def truncate_pair(
  unroller: Unroller, thetas: MetaParams, pair: InnerState, key: jax.Array, samplers: Any
) -> tuple[InnerState, jax.Array]:
  """One truncation of both particles (theta + eps, theta - eps); losses [2]."""
  return jax.vmap(unroller.truncation, in_axes=(0, 0, None, None))(thetas, pair, key, samplers)


def pair_gradient(weight: Any, losses: jax.Array, finite: jax.Array, std: float) -> Any:
  """weight * (L(+) - L(-)) / (2 std^2), or zeros when the pair is not finite."""
  coefficient = perturbation.two_point_coefficient(losses[0], losses[1], std)
  return perturbation.scale(weight, jnp.where(finite, coefficient, 0.0))


# The noise rules: (episode_start, remembered, fresh eps) -> (eps to run with, perturbation
# weighting the loss difference, what to remember). `episode_start`: the pair is at inner
# step 0 (just initialized or reset).


def _pes_noise(episode_start, remembered, fresh_eps):
  accumulated = where_tree(episode_start, jax.tree.map(jnp.zeros_like, remembered), remembered)
  accumulated = perturbation.shift(accumulated, fresh_eps)
  return fresh_eps, accumulated, accumulated


def _nres_noise(episode_start, remembered, fresh_eps):
  eps = where_tree(episode_start, fresh_eps, remembered)
  return eps, eps, eps


def _truncated_es_noise(episode_start, remembered, fresh_eps):
  del episode_start
  return fresh_eps, fresh_eps, remembered


NOISE_RULES: dict[str, Callable] = {
  "pes": _pes_noise,
  "nres": _nres_noise,
  "truncated_es": _truncated_es_noise,
}


# ---------------------------------------------------------------------------------------
# Truncated antithetic ES: PES, NRES and truncated ES by their noise rule.
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AntitheticES(PopulationEstimator):
  """`num_pairs` antithetic pairs, perturbation scale `std`, noise rule `noise` (one of
  `NOISE_RULES`: "pes", "nres", "truncated_es"; see the module docstring).

  `staggered_resets` cuts each pair's first life short at random so that the population
  does not reset all at once.
  """

  unroller: Unroller
  num_pairs: int
  std: float
  noise: str = "pes"
  staggered_resets: bool = True

  def __post_init__(self):
    check_pairs(self.num_pairs, self.std)
    if self.noise not in NOISE_RULES:
      raise ValueError(f"Unknown noise rule {self.noise!r}; expected one of {list(NOISE_RULES)}.")

  def init_population(self, theta, key):
    def pair(k):
      return pair_of(self.unroller.fresh(theta, k, staggered=self.staggered_resets))

    keys = jax.random.split(key, self.num_pairs)
    zeros = jax.tree.map(lambda t: jnp.zeros((self.num_pairs, *t.shape), t.dtype), theta)
    return Population(jax.vmap(pair)(keys), zeros, jnp.zeros([], jnp.int32))

  def estimate(self, theta, state, key, samplers):
    keys = jax.random.split(key, self.num_pairs)
    step = jax.vmap(self._pair, in_axes=(None, 0, 0, 0, None, None))
    grads, inner, extra, losses, finite, resets = step(
      theta, state.inner, state.extra, keys, samplers, state.calls
    )
    inner_steps = 2 * self.num_pairs * self.unroller.trunc_length
    grad, metrics = masked_mean_metrics(grads, losses, finite, resets, inner_steps)
    return grad, Population(inner, extra, state.calls + 1), metrics

  def _pair(self, theta, inner, remembered, key, samplers, calls):
    """One pair's truncation: (gradient, state, remembered noise, loss, finite, reset)."""
    k_reset, k_noise, k_unroll = jax.random.split(key, 3)
    first = jax.tree.map(lambda x: x[0], inner)
    if self.noise == "truncated_es":  # both particles continue from the positive one
      inner = pair_of(first)
    reset = first.step >= first.horizon
    inner = where_tree(reset, pair_of(self.unroller.fresh(theta, k_reset, calls=calls)), inner)

    episode_start = jnp.where(reset, 0, first.step) == 0
    run_eps, weight, remembered = NOISE_RULES[self.noise](
      episode_start, remembered, perturbation.sample(k_noise, theta, self.std)
    )
    inner, losses = truncate_pair(
      self.unroller, plus_minus(theta, run_eps), inner, k_unroll, samplers
    )
    finite = jnp.all(jnp.isfinite(losses)) & is_finite_tree(inner.params)
    grad = pair_gradient(weight, losses, finite, self.std)
    inner = inner._replace(step=jnp.where(finite, inner.step, inner.horizon))
    return grad, inner, remembered, jnp.mean(losses), finite, reset


# ---------------------------------------------------------------------------------------
# Full ES: fresh pairs, each run for its whole horizon with one eps.
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FullES(PopulationEstimator):
  """Full-horizon antithetic ES over `num_pairs` fresh pairs per call.

  Every call starts fresh pairs (new task, initialization, horizon) and runs both particles
  theta + eps and theta - eps for the pair's whole horizon: unbiased for the gradient of the
  smoothed meta-loss of the whole inner training, with no state carried between calls
  (`Population` holds only the call count). Horizons vary per pair, but a scan has a fixed
  length: every pair runs `horizon_truncations[1]` truncations and the losses past its own
  horizon are masked out (the compute for them is spent regardless).

  With no population kept, there is nothing to place on devices: `pair_sharding` (a
  `NamedSharding` over the pairs' axis, `meta_train.sharding.pairs`) splits the pairs drawn
  inside the call over a mesh instead.
  """

  unroller: Unroller
  num_pairs: int
  std: float
  pair_sharding: NamedSharding | None = None

  def __post_init__(self):
    check_pairs(self.num_pairs, self.std)
    devices = 1 if self.pair_sharding is None else self.pair_sharding.mesh.size
    if self.num_pairs % devices:
      raise ValueError(
        f"full_es's {self.num_pairs} pairs cannot be split evenly over {devices} devices: make "
        f"num_pairs a multiple of {devices}, or set --config.shard_population=False."
      )

  def init_population(self, theta, key):
    del theta, key  # nothing persists between calls
    return Population(inner=jnp.zeros([]), extra=jnp.zeros([]), calls=jnp.zeros([], jnp.int32))

  def estimate(self, theta, state, key, samplers):
    keys = jax.random.split(key, self.num_pairs)
    if self.pair_sharding is not None:
      keys = jax.lax.with_sharding_constraint(keys, self.pair_sharding)
    grads, losses, finite = jax.vmap(self._pair, in_axes=(None, 0, None, None))(
      theta, keys, samplers, state.calls
    )
    max_truncations = self.unroller.horizon_truncations[1]
    inner_steps = 2 * self.num_pairs * self.unroller.trunc_length * max_truncations
    resets = jnp.ones_like(finite)
    grad, metrics = masked_mean_metrics(grads, losses, finite, resets, inner_steps)
    return grad, state._replace(calls=state.calls + 1), metrics

  def _pair(self, theta, key, samplers, calls):
    k_member, k_noise, k_unroll = jax.random.split(key, 3)
    member = self.unroller.fresh(theta, k_member, calls=calls)
    eps = perturbation.sample(k_noise, theta, self.std)
    thetas = plus_minus(theta, eps)

    def body(inner, k):
      return truncate_pair(self.unroller, thetas, inner, k, samplers)

    max_truncations = self.unroller.horizon_truncations[1]
    inner, losses = jax.lax.scan(body, pair_of(member), jax.random.split(k_unroll, max_truncations))
    n = member.horizon // self.unroller.trunc_length
    mask = (jnp.arange(max_truncations) < n)[:, None]
    pair_losses = jnp.sum(jnp.where(mask, losses, 0.0), axis=0) / n
    finite = jnp.all(jnp.isfinite(pair_losses)) & is_finite_tree(inner.params)
    return pair_gradient(eps, pair_losses, finite, self.std), jnp.mean(pair_losses), finite


# ---------------------------------------------------------------------------------------
# Truncated backpropagation through time.
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TBPTT(PopulationEstimator):
  """Truncated backpropagation through time over `num_members` members.

  Each member runs one truncation of K inner steps with theta, and the meta-gradient is the
  exact gradient of the truncation's mean meta-loss with respect to theta, averaged over the
  population, with the state entering the truncation held constant (hence "truncated":
  biased towards short-horizon behaviour, but free of ES noise). With
  `unroller.checkpoint_inner_step`, each inner step is rematerialized during the backward
  pass (`jax.checkpoint`), trading compute for memory.
  """

  unroller: Unroller
  num_members: int
  staggered_resets: bool = True

  def __post_init__(self):
    if self.num_members < 1:
      raise ValueError(f"num_members must be positive, got {self.num_members}.")

  def init_population(self, theta, key):
    fresh = lambda k: self.unroller.fresh(theta, k, staggered=self.staggered_resets)
    inner = jax.vmap(fresh)(jax.random.split(key, self.num_members))
    return Population(inner, jnp.zeros([]), jnp.zeros([], jnp.int32))

  def estimate(self, theta, state, key, samplers):
    keys = jax.random.split(key, self.num_members)
    grads, inner, losses, finite, resets = jax.vmap(self._member, in_axes=(None, 0, 0, None, None))(
      theta, state.inner, keys, samplers, state.calls
    )
    inner_steps = self.num_members * self.unroller.trunc_length
    grad, metrics = masked_mean_metrics(grads, losses, finite, resets, inner_steps)
    return grad, Population(inner, state.extra, state.calls + 1), metrics

  def _member(self, theta, inner, key, samplers, calls):
    k_reset, k_unroll = jax.random.split(key)
    inner, reset = self.unroller.reset_where_done(theta, inner, k_reset, calls)

    def meta_loss(th):
      new_inner, loss = self.unroller.truncation(th, inner, k_unroll, samplers)
      return loss, new_inner

    (loss, inner), grad = jax.value_and_grad(meta_loss, has_aux=True)(theta)
    finite = jnp.isfinite(loss) & is_finite_tree(inner.params) & is_finite_tree(grad)
    grad = jax.tree.map(lambda g: jnp.where(finite, g, 0.0), grad)
    inner = inner._replace(step=jnp.where(finite, inner.step, inner.horizon))
    return grad, inner, loss, finite, reset


# ---------------------------------------------------------------------------------------
# A weighted mix of two estimators.
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Combined(Estimator):
  """`weight` of `first`'s estimate plus `1 - weight` of `second`'s.

  Each estimator keeps its own population; both advance on every call. Useful to mix a
  low-variance biased estimate (TBPTT) with an unbiased one (PES), as in Metz et al.,
  Gradients are Not All You Need (arXiv:2111.05803). Metrics: each part's under `first/`
  and `second/`; `meta_loss` weighted like the gradients; counts summed.
  """

  first: Estimator
  second: Estimator
  weight: float

  def __post_init__(self):
    if not 0.0 <= self.weight <= 1.0:
      raise ValueError(f"weight must lie in [0, 1], got {self.weight}.")

  def init(self, theta, key):
    k1, k2 = jax.random.split(key)
    return (self.first.init(theta, k1), self.second.init(theta, k2))

  def grad(self, theta, state, key):
    k1, k2 = jax.random.split(key)
    g1, s1, m1 = self.first.grad(theta, state[0], k1)
    g2, s2, m2 = self.second.grad(theta, state[1], k2)
    w = self.weight
    grad = jax.tree.map(lambda a, b: w * a + (1.0 - w) * b, g1, g2)
    metrics = {f"first/{k}": v for k, v in m1.items()} | {f"second/{k}": v for k, v in m2.items()}
    metrics["meta_loss"] = w * m1["meta_loss"] + (1.0 - w) * m2["meta_loss"]
    for name in ("num_nonfinite", "num_resets", "inner_steps"):
      metrics[name] = jnp.asarray(m1[name]) + jnp.asarray(m2[name])
    return grad, (s1, s2), metrics


# ---------------------------------------------------------------------------------------
# By name: what a config's `estimator.name` refers to.
# ---------------------------------------------------------------------------------------

# name -> (class, the options it takes from the config, fixed options).
ESTIMATORS: dict[str, tuple[type[Estimator], tuple[str, ...], dict[str, Any]]] = {
  **{
    name: (AntitheticES, ("num_pairs", "std", "staggered_resets"), {"noise": name})
    for name in NOISE_RULES
  },
  "full_es": (FullES, ("num_pairs", "std", "pair_sharding"), {}),
  "tbptt": (TBPTT, ("num_members", "staggered_resets"), {}),
  "combined": (Combined, ("first", "second", "weight"), {}),
}


def build(name: str, unroller: Unroller, options: dict[str, Any]) -> Estimator:
  """The estimator `name` over `unroller`, taking from `options` the ones it uses.

  `options` is a config's `estimator` block (the union of every estimator's options, see
  `ESTIMATORS`), plus `pair_sharding` for full ES. `combined` builds `options["first"]`
  and `options["second"]` from the same options. Unknown names raise `ValueError` with the
  close matches.
  """
  if name not in ESTIMATORS:
    close = difflib.get_close_matches(name, list(ESTIMATORS), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(f"Unknown estimator {name!r}.{hint} Known: {sorted(ESTIMATORS)}.")
  cls, takes, fixed = ESTIMATORS[name]
  chosen = {k: options[k] for k in takes if k in options}
  if cls is Combined:
    parts = [chosen[part] for part in ("first", "second")]
    if "combined" in parts:
      raise ValueError("combined mixes two other estimators, not itself.")
    return Combined(*(build(part, unroller, options) for part in parts), chosen["weight"])
  return cls(unroller, **chosen, **fixed)
