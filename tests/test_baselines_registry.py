"""Every registered optimizer through the same checks (optax's own test pattern).

Each implemented entry: converges on a quadratic (or, for the few methods defined for
another problem class, on that problem: `CONVERGENCE_PROBLEM`) for some learning rate of
its search space; the single-device methods of Tiers 1, 2, 3 and 5 also train the smoke task
(`_smoke_loss`: logistic regression on real digits; at `SMOKE_SETTINGS` where the defaults
cost minutes); each keeps the parameters' dtype,
compiles once, runs inside `optax.chain` and under `vmap`. Extra args (`value`, `value_fn`,
`key`, `output_fn` / `loss_of_outputs`, `dense_fn` / `targets`, `constraint_fn`) are supplied
according to `Entry.needs`.
"""

import difflib
import functools
import importlib
import pkgutil
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sklearn.datasets

import baselines
from baselines.registry import NEEDS, Choice, LogRange

IMPLEMENTED = baselines.names()
_ID = re.compile(r"^T[1-6]-\d\d$")


def _quadratic(params):
  # A small, mildly ill-conditioned quadratic over a matrix and a vector.
  scales = jnp.linspace(0.5, 2.0, 12).reshape(3, 4)
  # The target of w has zero row and column sums, so methods that cannot move those sums
  # (gradient centralization, SWAN's per-unit standardization) can reach it too.
  target = jnp.array([[1.0, -1.0, 1.0, -1.0], [-1.0, 1.0, -1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
  return 0.5 * jnp.sum(scales * (params["w"] - target) ** 2) + 0.5 * jnp.sum(
    (params["b"] + 0.5) ** 2
  )


def _quadratic_residuals(params):
  # The quadratic as least squares: _quadratic = _half_squared_norm(_quadratic_residuals).
  scales = jnp.linspace(0.5, 2.0, 12).reshape(3, 4)
  target = jnp.array([[1.0, -1.0, 1.0, -1.0], [-1.0, 1.0, -1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
  p = jax.tree.map(lambda x: x.astype(jnp.float32), params)
  return jnp.concatenate([(jnp.sqrt(scales) * (p["w"] - target)).ravel(), p["b"] + 0.5])


def _half_squared_norm(residuals):
  return 0.5 * jnp.sum(residuals**2)


def _separable_logistic(params):
  # Logistic regression on linearly separable data: the loss tends to 0 only as the
  # parameters grow without bound (the setting of methods that divide by the loss).
  theta = jnp.concatenate([params["w"].ravel(), params["b"]])
  x = jax.random.normal(jax.random.PRNGKey(42), (32, 16))
  y = jnp.sign(x @ jnp.linspace(-1.0, 1.0, 16))
  return jnp.mean(jax.nn.softplus(-y * (x @ theta)))


def _orthogonal(key, n):
  q, _ = jnp.linalg.qr(jax.random.normal(key, (n, n)))
  return q


_W0 = jax.random.normal(jax.random.PRNGKey(7), (3, 4))
_SAME_SPECTRUM = _orthogonal(jax.random.PRNGKey(8), 3) @ _W0 @ _orthogonal(jax.random.PRNGKey(9), 4)


def _same_spectrum_quadratic(params):
  # A target reachable by orthogonal transformations of the starting matrix _W0.
  return 0.5 * jnp.sum((params["w"] - _SAME_SPECTRUM) ** 2) + 0.5 * jnp.sum(
    (params["b"] + 0.5) ** 2
  )


# The parameters {w, b} as one dense layer (name ''; the extra arg `dense_fn`): outputs
# X w + b on 8 fixed inputs, targets from a planted layer, half the mean squared error.
_DENSE_X = jax.random.normal(jax.random.PRNGKey(11), (8, 3))
_DENSE_TARGETS = _DENSE_X @ jax.random.normal(jax.random.PRNGKey(12), (3, 4)) - 0.5


def _dense_fn(params, taps):
  p = jax.tree.map(lambda x: x.astype(jnp.float32), params)
  z = _DENSE_X @ p["w"] + p["b"]
  return (z if taps is None else z + taps[""]), {"": _DENSE_X}


def _dense_loss_of_outputs(z):
  return 0.5 * jnp.mean(jnp.sum((z - _DENSE_TARGETS) ** 2, -1))


def _dense_regression(params):
  return _dense_loss_of_outputs(_dense_fn(params, None)[0])


# Settings from an entry's search space for the smoke task, where its defaults make the
# check cost minutes: M-FAC's default window of 1024 gradients exceeds the smoke task's 650
# parameters, so each step would form and solve the dense 650 x 650 Fisher (6 rates x 200
# steps); a window of 32 takes the paper's m x m (Woodbury) path instead (the quadratic, 16
# parameters, checks the direct path at the defaults).
SMOKE_SETTINGS = {"mfac": {"num_grads": 32}}

# Methods defined for another problem class than a quadratic with a zero minimum from
# zero, and the problem (loss, start) their convergence is checked on instead.
CONVERGENCE_PROBLEM = {
  # Reads the model's dense layers (per-example norms, layer-local targets): a regression.
  "ghost_clipping": (_dense_regression, None),
  "tpsgd": (_dense_regression, None),
  # Divides the step by the loss, which vanishes at a quadratic's minimum.
  "normalized_lr_gd": (_separable_logistic, None),
  # Keeps every weight matrix's singular values (R W0 P with R, P orthogonal).
  "poet": (_same_spectrum_quadratic, {"w": _W0, "b": jnp.zeros((4,))}),
}


@functools.cache
def _smoke_data(num=512):
  digits = sklearn.datasets.load_digits()
  return (
    jnp.asarray(digits.data[:num] / 16.0, jnp.float32),
    jnp.asarray(digits.target[:num], jnp.int32),
  )


def _smoke_logits(params, x):
  # A scalar output gain `g`, when present, scales the logits.
  return params.get("g", 1.0) * (x @ params["w"]) + params["b"]


def _smoke_loss(params, x, y):
  # The smoke task: multinomial logistic regression on 512 of scikit-learn's 8x8 digits,
  # full batch (a matrix for the matrix methods, a bias vector for their fallback), from a
  # LeCun-normal start.
  return optax.softmax_cross_entropy_with_integer_labels(_smoke_logits(params, x), y).mean()


_SMOKE_START = {"w": jax.random.normal(jax.random.PRNGKey(3), (64, 10)) / 8.0, "b": jnp.zeros(10)}
# Methods that hold each weight matrix's norm (NaP) or singular values (POET) at their start
# are defined for layers whose scale a following normalization or gain sets: on the smoke
# task they get that gain.
_SMOKE_WITH_GAIN = {"nap_adam", "poet"}
# Where the smoke task counts as trained: a quarter of the start's loss (2.40; log 10 = 2.30
# is chance), which needs most training digits classified with some confidence.
_SMOKE_TARGET = 0.25


# Methods that materialize the Jacobian of the outputs (m = 512 examples x 10 classes on the
# smoke task) every step: EGN's m x m solve and Marquardt's diag(J^T H J). Their convergence on
# softmax regression is checked at a small batch in tests/test_gauss_newton.py.
_JACOBIAN_METHODS = {"egn", "levenberg_marquardt"}


def _on_smoke_task(entry) -> bool:
  # Methods for equality-constrained problems (`constraint_fn`) are checked on the
  # constrained tasks in tests/test_constrained.py instead.
  return (
    any(i.startswith(("T1-", "T2-", "T3-", "T5-")) for i in entry.ids)
    and "devices" not in entry.needs
    and "constraint_fn" not in entry.needs
    and entry.name not in _JACOBIAN_METHODS
  )


def _params(dtype=jnp.float32):
  return {"w": jnp.zeros((3, 4), dtype), "b": jnp.zeros((4,), dtype)}


# The equality constraint of methods for constrained problems (the extra arg `constraint_fn`):
# sum(b) = -2, which the quadratic's minimum (b = -0.5) satisfies.
def _constraint(params):
  return jnp.sum(params["b"].astype(jnp.float32), keepdims=True) + 2.0


# The loss functions that are a loss of model outputs: loss_fn -> (output_fn, loss_of_outputs).
_OUTPUTS = {_quadratic: (_quadratic_residuals, _half_squared_norm)}


def extra_args(entry, loss_fn, params, key, outputs=None):
  """The extra args an entry needs, in the project's vocabulary; `outputs`: the pair
  (output_fn, loss_of_outputs) of `loss_fn` where `_OUTPUTS` does not have it."""
  args = {}
  if "dense_fn" in entry.needs or "targets" in entry.needs:
    # Every check hands dense-layer methods the regression (its update, not `loss_fn`'s).
    args["dense_fn"], args["targets"] = _dense_fn, _DENSE_TARGETS
    args["loss_of_outputs"] = _dense_loss_of_outputs
  if "output_fn" in entry.needs:
    args["output_fn"], args["loss_of_outputs"] = outputs or _OUTPUTS[loss_fn]
  if "constraint_fn" in entry.needs:
    args["constraint_fn"] = _constraint
  if "value" in entry.needs:
    args["value"] = loss_fn(params)
  if "value_fn" in entry.needs:
    args["value_fn"] = loss_fn
  if "key" in entry.needs:
    args["key"] = key
  return args


def run(opt, entry, params, num_steps, seed=0, loss_fn=_quadratic, outputs=None):
  """`num_steps` steps of `opt` on `loss_fn` from `params`, as one scan; the final loss."""
  opt = optax.with_extra_args_support(opt)

  def step(carry, k):
    p, s = carry
    grads = jax.grad(loss_fn)(p)
    updates, s = opt.update(grads, s, p, **extra_args(entry, loss_fn, p, k, outputs))
    return (optax.apply_updates(p, updates), s), None

  (params, _), _ = jax.lax.scan(
    step, (params, opt.init(params)), jax.random.split(jax.random.PRNGKey(seed), num_steps)
  )
  return loss_fn(params)


def test_entries_are_well_formed():
  for e in baselines.entries():
    assert e.name == e.name.lower() and " " not in e.name, e.name
    assert all(_ID.match(i) for i in e.ids), (e.name, e.ids)
    assert e.source in ("optax", "project"), e.name
    assert set(e.needs) <= set(NEEDS), e.name
    if e.status == "implemented":
      assert e.paper, f"{e.name}: cite the paper"
      assert all(isinstance(d, LogRange | Choice) for d in e.search_space.values()), e.name
    else:
      assert e.reason, e.name


def test_unknown_name_suggests_close_matches():
  with pytest.raises(ValueError, match=r"Did you mean 'adamw'"):
    baselines.get("adamww")
  with pytest.raises(ValueError, match=r"no hyperparameter \['lr'\]"):
    baselines.get("adam", lr=1e-3)
  assert difflib.get_close_matches("adam", IMPLEMENTED)[0] == "adam"


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_converges_for_some_learning_rate(name):
  entry = baselines.entry(name)
  loss_fn, start = CONVERGENCE_PROBLEM.get(name, (_quadratic, None))
  start = _params() if start is None else start
  smoke = _on_smoke_task(entry)
  x, y = _smoke_data()

  def final(lr, x, y):  # the final losses on the quadratic and on the smoke task
    hp = {} if lr is None else {"learning_rate": lr}
    quadratic = run(baselines.get(name, **hp), entry, start, num_steps=300, loss_fn=loss_fn)
    if not smoke:
      return quadratic, jnp.nan
    smoke_loss = lambda p: _smoke_loss(p, x, y)
    outputs = (
      lambda p: _smoke_logits(p, x),
      lambda z: optax.softmax_cross_entropy_with_integer_labels(z, y).mean(),
    )
    smoke_start = dict(_SMOKE_START, g=jnp.ones(())) if name in _SMOKE_WITH_GAIN else _SMOKE_START
    opt = baselines.get(name, **SMOKE_SETTINGS.get(name, {}), **hp)
    trained = run(opt, entry, smoke_start, 200, loss_fn=smoke_loss, outputs=outputs)
    return quadratic, trained

  def passes(quadratic, trained):  # at some rate each: the quadratic, and the smoke task
    converged = np.nanmin(quadratic) < 0.05 * float(loss_fn(start))
    return converged and (not smoke or np.nanmin(trained) < _SMOKE_TARGET * smoke_start_loss)

  smoke_start_loss = float(_smoke_loss(_SMOKE_START, x, y))
  if "learning_rate" not in entry.search_space:
    finals = [tuple(float(f) for f in jax.jit(final, static_argnums=0)(None, x, y))]
  else:
    lrs = entry.search_space["learning_rate"].grid(6)
    try:  # every learning rate in one compiled program
      q, t = jax.jit(jax.vmap(final, in_axes=(0, None, None)))(jnp.asarray(lrs), x, y)
      finals = list(zip(np.asarray(q).tolist(), np.asarray(t).tolist(), strict=True))
    except TypeError:  # a factory that needs a concrete learning rate: one program per rate
      # The grid from its middle outwards, stopping once both checks have passed (at one
      # rate or at two): the assertion holds for the rates run exactly when it holds for six.
      finals = []
      for i in sorted(range(len(lrs)), key=lambda i: abs(i - (len(lrs) - 1) / 2)):
        finals.append(tuple(float(f) for f in jax.jit(final, static_argnums=0)(lrs[i], x, y)))
        if passes(*np.asarray(finals).T):
          break
  assert passes(*np.asarray(finals).T), finals


@pytest.mark.parametrize("name", IMPLEMENTED)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_keeps_dtype(name, dtype):
  entry = baselines.entry(name)
  opt = optax.with_extra_args_support(baselines.get(name))
  params = _params(dtype)
  loss = lambda p: _quadratic(jax.tree.map(lambda x: x.astype(jnp.float32), p))

  def first_update(params):
    grads = jax.grad(loss)(params)
    key = jax.random.PRNGKey(0)
    args = extra_args(entry, loss, params, key, (_quadratic_residuals, _half_squared_norm))
    updates, _ = opt.update(grads, opt.init(params), params, **args)
    return updates

  # Traced abstractly: dtypes without compiling.
  updates = jax.eval_shape(first_update, params)
  assert jax.tree.map(lambda u: u.dtype, updates) == jax.tree.map(lambda p: p.dtype, params)


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_compiles_once_and_works_in_chain_and_vmap(name):
  entry = baselines.entry(name)
  opt = optax.with_extra_args_support(
    optax.chain(optax.clip_by_global_norm(10.0), baselines.get(name))
  )

  def step(p, s, k):
    grads = jax.grad(_quadratic)(p)
    updates, s = opt.update(grads, s, p, **extra_args(entry, _quadratic, p, k))
    return optax.apply_updates(p, updates), s

  # Three programs: init, the step, and init + step under vmap.
  jitted, init = jax.jit(step), jax.jit(opt.init)
  p, s = _params(), init(_params())
  for k in jax.random.split(jax.random.PRNGKey(0), 3):
    p, s = jitted(p, s, k)
  assert jitted._cache_size() == 1
  assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(p))

  batch = jax.tree.map(lambda x: jnp.stack([x, x + 1.0]), _params())
  keys = jax.random.split(jax.random.PRNGKey(1), 2)
  vp, _ = jax.jit(jax.vmap(lambda p, k: step(p, opt.init(p), k)))(batch, keys)
  second = jax.tree.map(lambda x: x[1], batch)
  one, _ = jitted(second, init(second), keys[1])
  np.testing.assert_allclose(vp["w"][1], one["w"], rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# The layout: families re-export their rules, and baselines re-exports the families.
# --------------------------------------------------------------------------------------------

FAMILIES = sorted(
  m.name for m in pkgutil.iter_modules(baselines.__path__) if m.ispkg and m.name != "suite"
)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_rule_is_public_as_in_optax(family):
  """Every `scale_by_<name>`, state and registered factory of a family's rule files is in the
  family's `__all__` and, but for `merging`, an attribute of `baselines`."""
  package = importlib.import_module(f"baselines.{family}")
  factories = {
    e.factory for e in baselines.entries() if baselines.registry.family(e.name) == family
  }
  missing = []
  for m in pkgutil.iter_modules(package.__path__):
    if not m.name.startswith("_"):
      continue
    module = importlib.import_module(f"baselines.{family}.{m.name}")
    for name, obj in vars(module).items():
      public = name.startswith("scale_by_") or (name.endswith("State") and name[0].isupper())
      if getattr(obj, "__module__", None) == module.__name__ and (public or obj in factories):
        if name not in package.__all__:
          missing.append(f"{module.__name__}.{name}")
  assert not missing, f"not in baselines.{family}.__all__: {missing}"
  if family != "merging":
    assert all(getattr(baselines, n) is getattr(package, n) for n in package.__all__)
  assert all(baselines.registry.family(e.name) in FAMILIES for e in baselines.entries())
