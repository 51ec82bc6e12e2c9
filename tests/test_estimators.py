"""Meta-gradient estimators against a meta-problem with a known answer (tests/meta_problems.py).

Statistical tests: each estimator's mean over 8 independent populations of 2,048 pairs must
lie within 4 standard errors of its target (a false alarm about once in 16,000 runs), and
each test checks that its standard error is below 10% of the target, so that a wrong
estimator could not pass by noise.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import meta_problems as mp
import numpy as np
import pytest

from meta_train import estimators
from meta_train.estimators import TBPTT, AntitheticES, Combined, FullES
from tasks import ArraySampler, Task, TaskFamily

# The three truncated antithetic estimators: one class, three noise rules.
PES = functools.partial(AntitheticES, noise="pes")
NRES = functools.partial(AntitheticES, noise="nres")
TruncatedES = functools.partial(AntitheticES, noise="truncated_es")

PAIRS = 2048
THETA = {"log_learning_rate": jnp.asarray(mp.THETA)}


def test_pes_is_unbiased_and_truncated_es_is_not():
  pes = PES(mp.unroller(2), num_pairs=PAIRS, std=mp.STD, staggered_resets=False)
  est = mp.repeated_estimates(pes, calls=2)
  target_1 = mp.smoothed(mp.total_derivative(1), 1)
  target_2 = mp.smoothed(mp.total_derivative(2), 2)
  ok, info = mp.agrees(est[:, 0], target_1)
  assert ok, info
  ok, info = mp.agrees(est[:, 1], target_2)
  assert ok, info
  # Truncated ES converges to the derivative through the last perturbation only ...
  tes = TruncatedES(mp.unroller(2), num_pairs=PAIRS, std=mp.STD, staggered_resets=False)
  tes_est = mp.repeated_estimates(tes, calls=2)
  truncated_target = mp.smoothed(mp.last_derivative(2), 2)
  ok, info = mp.agrees(tes_est[:, 1], truncated_target)
  assert ok, info
  # ... which is visibly not the meta-gradient: the same test rejects it.
  ok, info = mp.agrees(tes_est[:, 1], target_2, sigmas=8.0)
  assert not ok, info


def test_full_es_is_unbiased_for_the_whole_training():
  # One perturbation for both truncations; the meta-loss is their mean.
  whole = lambda e: (
    0.5 * (mp.truncation_loss(mp.THETA + e) + mp.truncation_loss(mp.THETA + e, mp.THETA + e))
  )
  target = mp.smoothed(jax.grad(whole), 1)
  est = mp.repeated_estimates(FullES(mp.unroller(2), num_pairs=PAIRS, std=mp.STD), calls=1)
  ok, info = mp.agrees(est[:, 0], target)
  assert ok, info


def test_nres_is_unbiased_with_no_more_variance_than_pes():
  calls = 4
  nres = NRES(mp.unroller(calls), num_pairs=PAIRS, std=mp.STD, staggered_resets=False)
  nres_est = mp.repeated_estimates(nres, calls=calls)
  # NRES reuses one eps for the episode: its target smooths all truncations jointly.
  same_eps = lambda e: jax.grad(lambda t: mp.truncation_loss(*[t] * calls))(mp.THETA + e)
  ok, info = mp.agrees(nres_est[:, -1], mp.smoothed(same_eps, 1))
  assert ok, info
  # Per-pair variance at the last truncation, over 40,000 single-pair populations (relative
  # error of each variance ~0.7%). PES weights by a sum of 4 perturbations, NRES by one;
  # on this problem a linearization predicts a variance ratio of 0.95.
  single = dict(num_pairs=1, std=mp.STD, staggered_resets=False)
  nres_var = np.var(mp.vmapped_estimates(NRES(mp.unroller(calls), **single), calls, 40000))
  pes_var = np.var(mp.vmapped_estimates(PES(mp.unroller(calls), **single), calls, 40000))
  assert nres_var <= pes_var, (nres_var, pes_var)


@pytest.mark.parametrize("checkpoint", [False, True])
def test_tbptt_equals_jax_grad_of_the_unroll(checkpoint):
  est = TBPTT(
    mp.unroller(1, checkpoint_inner_step=checkpoint), num_members=3, staggered_resets=False
  )
  state = est.init(THETA, jax.random.PRNGKey(0))
  g, state, _ = est.grad(THETA, state, jax.random.PRNGKey(1))
  expected = jax.grad(mp.truncation_loss)(mp.THETA)
  np.testing.assert_allclose(g["log_learning_rate"], expected, rtol=1e-5)
  # The second truncation backpropagates through its own K steps only.
  two = TBPTT(mp.unroller(2), num_members=3, staggered_resets=False)
  state = two.init(THETA, jax.random.PRNGKey(0))
  _, state, _ = two.grad(THETA, state, jax.random.PRNGKey(1))
  g2, _, _ = two.grad(THETA, state, jax.random.PRNGKey(2))
  truncated = jax.grad(mp.truncation_loss, argnums=1)(mp.THETA, mp.THETA)
  np.testing.assert_allclose(g2["log_learning_rate"], truncated, rtol=1e-5)


@pytest.mark.parametrize("cls", [PES, NRES, TruncatedES])
def test_members_reset_at_their_horizon(cls):
  est = cls(mp.unroller(2), num_pairs=4, std=mp.STD, staggered_resets=False)
  state = est.init(THETA, jax.random.PRNGKey(0))
  resets = []
  for i in range(5):
    _, state, m = est.grad(THETA, state, jax.random.PRNGKey(i + 1))
    resets.append(int(m["num_resets"]))
    assert np.all(np.asarray(state.inner.step) <= 2 * mp.K)
  assert resets == [0, 0, 4, 0, 4]


@pytest.mark.parametrize("schedule", ["uniform", "log_uniform", "constant", "growing"])
def test_horizon_schedules_stay_in_bounds(schedule):
  u = mp.unroller(1)
  u = u.__class__(
    u.lopt,
    u.family,
    trunc_length=mp.K,
    horizon_truncations=(2, 64),
    horizon_schedule=schedule,
    growth_calls=100,
  )
  keys = jax.random.split(jax.random.PRNGKey(0), 4000)
  early = np.asarray(jax.vmap(lambda k: u.sample_horizon(k, 0))(keys)) // mp.K
  late = np.asarray(jax.vmap(lambda k: u.sample_horizon(k, 1000))(keys)) // mp.K
  assert early.min() >= 2 and late.max() <= 64
  if schedule == "constant":
    assert set(early) == {64}
  if schedule == "growing":
    assert early.max() == 2 and late.max() > 48
  if schedule == "log_uniform":
    # Each octave about equally likely: [2, 4) vs [32, 64].
    assert 0.5 < np.mean(early < 4) / np.mean(early >= 32) < 2.0
  if schedule == "uniform":
    assert 0.5 < np.mean(early < 4) / np.mean((early >= 32) & (early < 34)) < 2.0


def test_staggered_resets_spread_the_first_horizon():
  u = mp.unroller(8)
  est = PES(u, num_pairs=64, std=mp.STD, staggered_resets=True)
  state = est.init(THETA, jax.random.PRNGKey(0))
  horizons = np.asarray(state.inner.horizon[:, 0]) // mp.K
  assert horizons.min() >= 1 and horizons.max() <= 8
  assert len(np.unique(horizons)) >= 5


@pytest.mark.parametrize("cls", [PES, NRES, TruncatedES, FullES, TBPTT])
def test_diverging_members_are_masked_counted_and_reset(cls):
  family = mp.ParabolaFamily(diverge=0.5)
  size = {"num_members": 8} if cls is TBPTT else {"num_pairs": 8, "std": mp.STD}
  est = cls(mp.unroller(2, family=family), **size)
  state = est.init(THETA, jax.random.PRNGKey(0))
  counts = []
  for i in range(3):
    g, state, m = est.grad(THETA, state, jax.random.PRNGKey(i + 1))
    assert np.isfinite(float(g["log_learning_rate"])) and np.isfinite(float(m["meta_loss"]))
    counts.append(int(m["num_nonfinite"]))
  assert 0 < max(counts) < 8, counts


def test_combined_weights_the_two_estimates_and_sums_the_counts():
  tbptt = TBPTT(mp.unroller(2), num_members=4, staggered_resets=False)
  pes = PES(mp.unroller(2), num_pairs=4, std=mp.STD, staggered_resets=False)
  est = Combined(tbptt, pes, weight=0.25)
  k_init, k_grad = jax.random.PRNGKey(0), jax.random.PRNGKey(1)
  g, state, m = est.grad(THETA, est.init(THETA, k_init), k_grad)
  # Each part by hand, on the keys the combination hands it (the split of its key).
  (i1, i2), (c1, c2) = jax.random.split(k_init), jax.random.split(k_grad)
  g1, s1, m1 = tbptt.grad(THETA, tbptt.init(THETA, i1), c1)
  g2, s2, m2 = pes.grad(THETA, pes.init(THETA, i2), c2)
  expected = 0.25 * float(g1["log_learning_rate"]) + 0.75 * float(g2["log_learning_rate"])
  np.testing.assert_allclose(float(g["log_learning_rate"]), expected, rtol=1e-6)
  np.testing.assert_allclose(
    float(m["meta_loss"]), 0.25 * float(m1["meta_loss"]) + 0.75 * float(m2["meta_loss"]), rtol=1e-6
  )
  assert int(m["inner_steps"]) == 4 * mp.K + 2 * 4 * mp.K
  for name in ("num_nonfinite", "num_resets", "inner_steps"):
    assert int(m[name]) == int(m1[name]) + int(m2[name])
    assert int(m[f"first/{name}"]) == int(m1[name]) and int(m[f"second/{name}"]) == int(m2[name])
  for ours, theirs in ((state[0], s1), (state[1], s2)):
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
      np.testing.assert_array_equal(a, b)
  with pytest.raises(ValueError, match=r"weight must lie in \[0, 1\]"):
    Combined(tbptt, pes, weight=1.5)


def test_estimators_by_config_name():
  options = {
    "num_pairs": 2, "std": mp.STD, "num_members": 2, "staggered_resets": False,
    "first": "tbptt", "second": "nres", "weight": 0.5,
  }  # fmt: skip
  u = mp.unroller(2)
  for name, noise in (("pes", "pes"), ("nres", "nres"), ("truncated_es", "truncated_es")):
    est = estimators.build(name, u, options)
    assert isinstance(est, AntitheticES) and est.noise == noise and est.num_pairs == 2
  assert isinstance(estimators.build("full_es", u, options), FullES)
  combined = estimators.build("combined", u, options)
  assert isinstance(combined.first, TBPTT) and combined.second.noise == "nres"
  with pytest.raises(ValueError, match="Did you mean 'nres'"):
    estimators.build("nrse", u, options)
  with pytest.raises(ValueError, match="not itself"):
    estimators.build("combined", u, {**options, "first": "combined"})
  with pytest.raises(ValueError, match="Unknown noise rule"):
    AntitheticES(u, num_pairs=2, std=mp.STD, noise="persistent")


@dataclasses.dataclass(frozen=True)
class _Shifted(Task):
  """f(x) = (x - c)^2 / 2 from x = 1, c read from the batch: 0 in `train`, 2 in `valid`."""

  name: str = "shifted"

  def init(self, key):
    return {"x": jnp.ones(())}

  def loss(self, params, key, batch):
    return 0.5 * jnp.mean((params["x"] - batch["c"]) ** 2)

  def batches(self, split):
    return ArraySampler({"c": jnp.full((1,), 2.0 if split == "valid" else 0.0)}, batch_size=1)

  def normalize(self, loss):
    return jnp.log(loss + mp.FLOOR)


@dataclasses.dataclass(frozen=True)
class _ShiftedFamily(TaskFamily):
  name: str = "shifted"

  def sample(self, key):
    return {}

  def task(self, cfg):
    return _Shifted()

  def batches(self, split):
    return _Shifted().batches(split)


def _truncation_loss(unroller):
  member = unroller.fresh(THETA, jax.random.PRNGKey(0))
  _, loss = jax.jit(unroller.truncation)(THETA, member, jax.random.PRNGKey(1), unroller.samplers())
  return float(loss)


def test_meta_loss_on_the_valid_split_reads_a_valid_batch_after_each_update():
  """SGD at lr 0.1 from x = 1 on train batches (c = 0): x_t = 0.9^t. The valid meta-loss of
  step t is the loss of x_{t+1} on a valid batch (c = 2); the train one, of x_t (c = 0)."""
  x = 0.9 ** np.arange(mp.K + 1)
  valid = np.mean(np.log(0.5 * (x[1:] - 2.0) ** 2 + mp.FLOOR))
  train = np.mean(np.log(0.5 * x[:-1] ** 2 + mp.FLOOR))
  for split, expected in (("valid", valid), ("train", train)):
    u = mp.unroller(1, family=_ShiftedFamily(), loss_split=split)
    np.testing.assert_allclose(_truncation_loss(u), expected, rtol=1e-5)
  with pytest.raises(ValueError, match="loss_split"):
    mp.unroller(1, loss_split="test")


def test_loss_clip_bounds_finite_meta_losses_and_keeps_non_finite_ones():
  x = 0.9 ** np.arange(mp.K)
  losses = np.log(0.5 * x**2 + mp.FLOOR)  # -0.69 at the first step, then lower
  for clip in (None, -1.0, -2.0):
    expected = np.mean(losses if clip is None else np.minimum(losses, clip))
    np.testing.assert_allclose(
      _truncation_loss(mp.unroller(1, loss_clip=clip)), expected, rtol=1e-5
    )
  diverging = mp.unroller(1, family=mp.ParabolaFamily(diverge=1.0), loss_clip=-1.0)
  assert not np.isfinite(_truncation_loss(diverging))  # masked by the estimators, not clipped
