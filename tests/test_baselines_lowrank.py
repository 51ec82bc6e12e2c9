"""T2-11..T2-21 (low-rank, subspace, block methods) and their shared toolkit
`baselines.lowrank.projection`.

Each project-written method is checked against a numpy reference written from the paper's
update rule, run in float64 on random per-step gradients from nonzero parameters, over a
tall matrix (`w`, reduced on the right), a wide one (`v`, reduced on the left) and a vector
(`b`, the full-rank fallback). The JAX optimizers run in float32, hence rtol=1e-5 (atol
covers entries near zero). Randomness that is part of a method (APOLLO's and FRUGAL's random
projections, block and layer draws) is taken from the optimizer's state or from the toolkit's
selection functions, which are tested on their own; the update rules are not.
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import baselines
from baselines.lowrank import projection as pj

STEPS = 8
RTOL, ATOL = 1e-5, 1e-6
SHAPES = {"b": (4,), "v": (4, 6), "w": (6, 4)}  # flattening order: b, v, w


def _params0(seed=0):
  rng = np.random.default_rng(seed)
  return {k: rng.normal(size=s).astype(np.float32).astype(np.float64) for k, s in SHAPES.items()}


def _grads(seed=1, steps=STEPS):
  rng = np.random.default_rng(seed)
  f32 = lambda s: rng.normal(size=s).astype(np.float32).astype(np.float64)
  return [{k: f32(s) for k, s in SHAPES.items()} for _ in range(steps)]


def _to_jax(tree):
  return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), tree)


def _run(opt, params, grads):
  """Applies `opt` along a fixed gradient sequence; parameters and states after each step."""
  update = jax.jit(opt.update)
  p = _to_jax(params)
  state = opt.init(p)
  traj, states = [], []
  for g in grads:
    u, state = update(_to_jax(g), state, p)
    p = optax.apply_updates(p, u)
    traj.append(jax.tree.map(np.asarray, p))
    states.append(state)
  return traj, states


def _close(jax_traj, ref_traj, rtol=RTOL, atol=ATOL):
  assert len(jax_traj) == len(ref_traj)
  for k, (a, b) in enumerate(zip(jax_traj, ref_traj, strict=True)):
    for name in b:
      np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=atol, err_msg=f"step {k + 1}")


# --------------------------------------------------------------------------------------------
# numpy versions of the matrix conventions (written from the definitions).
# --------------------------------------------------------------------------------------------


def _side(shape):
  return "right" if shape[0] >= shape[1] else "left"


def _proj(P, G, side):
  return G @ P if side == "right" else P.T @ G


def _back(P, R, side):
  return R @ P.T if side == "right" else P @ R


def _svd_proj(G, side, r):
  U, _, Vh = np.linalg.svd(G, full_matrices=False)
  vecs = Vh[:r].T if side == "right" else U[:, :r]
  idx = np.argmax(np.abs(vecs), axis=0)
  return vecs * np.sign(vecs[idx, np.arange(vecs.shape[1])])


def _chan(X, side):
  """Norms over the reduced side: one per row ("right") or per column ("left")."""
  return np.linalg.norm(X, axis=1 if side == "right" else 0, keepdims=True)


def _adam(s, x, b1, b2):
  s["m"] = b1 * s["m"] + (1 - b1) * x
  s["v"] = b2 * s["v"] + (1 - b2) * x * x
  return s["m"], s["v"]


def _galore_step(t, b1, b2):
  return math.sqrt(1 - b2**t) / (1 - b1**t)


def _limit(x, state, gamma=1.01):
  norm = np.linalg.norm(x)
  if "prev" in state:
    lim = max(norm / (state["prev"] + 1e-8), gamma) / gamma
    x, norm = x / lim, norm / lim
  state["prev"] = norm
  return x


# --------------------------------------------------------------------------------------------
# The toolkit on its own.
# --------------------------------------------------------------------------------------------


def test_layout_rule_and_fallback_mask():
  assert pj.layout((6, 4), 2) == pj.Layout((6, 4), 6, 4, "right", 2)
  assert pj.layout((4, 6), 9) == pj.Layout((4, 6), 4, 6, "left", 4)
  lay = pj.layout((2, 3, 4), 3)  # leading axes merge into rows
  assert (lay.m, lay.n, lay.side, lay.projected_shape) == (6, 4, "right", (6, 3))
  params = {"b": jnp.zeros(4), "k": jnp.zeros((2, 3, 4)), "w": jnp.zeros((6, 4))}
  assert [x is None for x in pj.layouts(params, 2)] == [True, False, False]
  custom = pj.layouts(params, 2, lambda p: {"b": True, "k": False, "w": True})
  assert [x is None for x in custom] == [True, True, False]  # a vector is never projected
  with pytest.raises(ValueError, match="ndim >= 2"):
    pj.layout((4,), 2)


@pytest.mark.parametrize("shape", [(7, 5), (5, 7)])
def test_svd_projector_is_orthonormal_top_subspace(shape):
  rng = np.random.default_rng(0)
  G = rng.normal(size=shape).astype(np.float32)
  lay = pj.layout(shape, 3)
  P = np.asarray(pj.svd_projector(jnp.asarray(G), lay))
  assert P.shape == (lay.reduced_dim, 3)
  np.testing.assert_allclose(P.T @ P, np.eye(3), atol=1e-5)
  ref = _svd_proj(G.astype(np.float64), lay.side, 3)
  np.testing.assert_allclose(P, ref, atol=1e-5)  # same vectors, same sign convention
  # The rank-3 reconstruction is the best rank-3 approximation (Eckart-Young).
  s = np.linalg.svd(G, compute_uv=False)
  recon = np.asarray(pj.project_back(P, pj.project(P, jnp.asarray(G), lay.side), lay.side))
  np.testing.assert_allclose(np.linalg.norm(G - recon) ** 2, np.sum(s[3:] ** 2), rtol=1e-4)


@pytest.mark.parametrize("shape", [(7, 5), (5, 7)])
def test_projection_round_trip_on_the_subspace(shape):
  rng = np.random.default_rng(1)
  lay = pj.layout(shape, 2)
  P = pj.random_projector(jax.random.PRNGKey(0), lay, "orthonormal")
  np.testing.assert_allclose(np.asarray(P.T @ P), np.eye(2), atol=1e-5)
  R0 = jnp.asarray(rng.normal(size=lay.projected_shape), jnp.float32)
  X = pj.project_back(P, R0, lay.side)  # a matrix inside the subspace
  np.testing.assert_allclose(pj.project(P, X, lay.side), R0, atol=1e-5)
  np.testing.assert_allclose(pj.project_back(P, pj.project(P, X, lay.side), lay.side), X, atol=1e-5)
  G = jnp.asarray(rng.normal(size=shape), jnp.float32)  # a general matrix: P Pᵀ is idempotent
  R = pj.project(P, G, lay.side)
  np.testing.assert_allclose(pj.project(P, pj.project_back(P, R, lay.side), lay.side), R, atol=1e-5)
  assert not np.allclose(pj.project_back(P, R, lay.side), G, atol=1e-2)


def test_gaussian_projector_has_variance_one_over_rank():
  lay = pj.layout((512, 1024), 64)
  P = np.asarray(pj.random_projector(jax.random.PRNGKey(3), lay))
  assert P.shape == (512, 64)
  assert abs(P.std() * math.sqrt(64) - 1.0) < 0.02 and abs(P.mean()) < 0.01


def test_refresh_happens_every_interval_inside_one_trace():
  def body(proj, count):
    proj = pj.refresh(count, 4, proj, lambda: proj + 1.0)
    return proj, proj

  _, seen = jax.jit(lambda: jax.lax.scan(body, jnp.zeros(()), jnp.arange(10)))()
  np.testing.assert_array_equal(seen, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3])  # counts 0, 4, 8
  keys = [pj.refresh_key(jax.random.PRNGKey(0), 1, jnp.int32(c), 4) for c in range(8)]
  assert all(np.array_equal(keys[0], k) for k in keys[:4])
  assert not np.array_equal(keys[3], keys[4])
  assert not np.array_equal(keys[0], pj.refresh_key(jax.random.PRNGKey(0), 2, jnp.int32(0), 4))


def test_online_pca_step_is_a_gradient_step_and_reduces_the_error():
  rng = np.random.default_rng(2)
  G = rng.normal(size=(6, 4))
  for side in ("left", "right"):
    d = 6 if side == "left" else 4
    P = np.linalg.qr(rng.normal(size=(d, 2)))[0] * 0.9
    new = np.asarray(pj.online_pca_step(jnp.asarray(P, jnp.float32), jnp.asarray(G), side, 0.05))
    # Closed form of the gradient of ||H - P Pᵀ H||² (H = G or Gᵀ, normalized), with E the
    # residual: -2 (E Hᵀ P + H Eᵀ P).
    H = (G if side == "left" else G.T) / np.linalg.norm(G)
    E = H - P @ P.T @ H
    grad = -2 * (E @ H.T @ P + H @ E.T @ P)
    np.testing.assert_allclose(new, P - 0.05 * grad, rtol=1e-5, atol=1e-6)
    err = lambda Q, H=H: np.linalg.norm(H - Q @ Q.T @ H)
    assert err(new) < err(P)


def test_haar_round_trip_and_orthonormality():
  rng = np.random.default_rng(3)
  x = jnp.asarray(rng.normal(size=(3, 16)), jnp.float32)
  a, ds = pj.haar_dwt(x, 3)
  assert a.shape == (3, 2) and [d.shape[-1] for d in ds] == [8, 4, 2]
  energy = jnp.sum(a**2) + sum(jnp.sum(d**2) for d in ds)
  np.testing.assert_allclose(energy, jnp.sum(x**2), rtol=1e-5)
  np.testing.assert_allclose(pj.haar_idwt(a, ds), x, atol=1e-5)
  xn = np.asarray(x, np.float64)  # one level against the pair formula
  a1, (d1,) = pj.haar_dwt(x, 1)
  np.testing.assert_allclose(a1, (xn[:, ::2] + xn[:, 1::2]) / math.sqrt(2), atol=1e-6)
  np.testing.assert_allclose(d1, (xn[:, ::2] - xn[:, 1::2]) / math.sqrt(2), atol=1e-6)
  with pytest.raises(ValueError, match="divisible"):
    pj.haar_dwt(jnp.zeros((2, 6)), 2)


def test_block_and_layer_selection():
  key = jax.random.PRNGKey(0)
  pick = lambda order: [int(pj.cyclic_block(jnp.int32(c), 2, 3, order, key)) for c in range(12)]
  assert pick("ascending") == [0, 0, 1, 1, 2, 2] * 2
  assert pick("descending") == [2, 2, 1, 1, 0, 0] * 2
  rnd = pick("random")
  for epoch in (rnd[:6], rnd[6:]):  # each block-epoch visits every block once, K steps each
    assert sorted(epoch[::2]) == [0, 1, 2] and epoch[::2] == epoch[1::2]
  draws = [np.asarray(pj.sampled_groups(jnp.int32(c), 3, 5, 2, key)) for c in range(12)]
  assert all(d.sum() == 2 for d in draws)
  assert all(np.array_equal(draws[3 * k], draws[3 * k + j]) for k in range(4) for j in (1, 2))
  assert len({d.tobytes() for d in draws}) > 1
  params = {"a": jnp.zeros(2), "b": jnp.zeros(3)}
  assert pj.group_ids(params, None) == [0, 1]
  assert pj.group_ids(params, lambda p: {"a": -1, "b": 0}) == [-1, 0]


def test_projected_state_is_low_rank():
  params = {"b": jnp.zeros(64), "w": jnp.zeros((256, 128))}
  adam_bytes = baselines.state_bytes(optax.adam(1e-3), params)
  for name, hp in [
    ("fira", {"rank": 8}),
    ("apollo", {"rank": 8}),
    ("online_subspace_descent", {"rank": 8}),
    ("subspace_momentum", {"rank": 8}),
    ("frugal", {"projection": "svd", "density": 1 / 16}),
    ("apollo_mini", {}),
    ("gwt", {"levels": 3}),
  ]:
    assert baselines.state_bytes(baselines.get(name, **hp), params) < adam_bytes / 4, name
  fira_state = baselines.get("fira", rank=8).init(params)[0]
  assert fira_state.mu[1].shape == (256, 8) and fira_state.proj[1].shape == (128, 8)
  assert fira_state.mu[0].shape == (64,)  # the vector's full-rank Adam fallback


# --------------------------------------------------------------------------------------------
# GaLore: optax's own.
# --------------------------------------------------------------------------------------------


def test_galore_is_optax():
  params, grads = _params0(), _grads()
  hp = {"learning_rate": 1e-2, "rank": 2, "update_proj_gap": 3, "scale": 0.25}
  ours, _ = _run(baselines.get("galore", **hp), params, grads)
  theirs, _ = _run(optax.contrib.galore(**hp), params, grads)
  _close(ours, theirs, rtol=0, atol=0)
  assert baselines.entry("galore").source == "optax"


# --------------------------------------------------------------------------------------------
# Project-written methods against numpy references.
# --------------------------------------------------------------------------------------------


def test_subspace_momentum_matches_reference():
  lr, b1, rank, T = 0.1, 0.9, 2, 3
  params, grads = _params0(), _grads()
  opt = baselines.get("subspace_momentum", learning_rate=lr, b1=b1, rank=rank, update_interval=T)
  p = {k: v.copy() for k, v in params.items()}
  st = {k: {} for k in p}
  ref = []
  for t, g in enumerate(grads):
    for k in p:
      if k == "b":
        st[k]["m"] = b1 * st[k].get("m", 0.0) + (1 - b1) * g[k]
        p[k] = p[k] - lr * st[k]["m"]
        continue
      side = _side(SHAPES[k])
      if t % T == 0:
        st[k]["P"] = _svd_proj(g[k], side, rank)
      P = st[k]["P"]
      R = _proj(P, g[k], side)
      st[k]["m"] = b1 * st[k].get("m", 0.0) + (1 - b1) * R
      p[k] = p[k] - lr * (_back(P, st[k]["m"], side) + g[k] - _back(P, R, side))
    ref.append({k: v.copy() for k, v in p.items()})
  traj, _ = _run(opt, params, grads)
  _close(traj, ref)


def _galore_family_ref(params, grads, lr, T, direction, proj_fn, b1=0.9, b2=0.999, eps=1e-6):
  """Shared driver: the projector from `proj_fn(k, t, G, side)` at refresh steps, Adam on R
  (fallback Adam on the vector), and the method's `direction(k, G, P, R, m, v, side, st)`."""
  p = {k: v.copy() for k, v in params.items()}
  st = {k: {"m": 0.0, "v": 0.0} for k in p}
  ref = []
  for t, g in enumerate(grads, start=1):
    step = _galore_step(t, b1, b2)
    for k in p:
      if k == "b":
        m, v = _adam(st[k], g[k], b1, b2)
        p[k] = p[k] - lr * step * m / (np.sqrt(v) + eps)
        continue
      side = _side(SHAPES[k])
      if (t - 1) % T == 0:
        st[k]["P"] = proj_fn(k, t, g[k], side)
      P = st[k]["P"]
      R = _proj(P, g[k], side)
      m, v = _adam(st[k], R, b1, b2)
      p[k] = p[k] - lr * step * direction(k, g[k], P, R, m, v, side, st[k])
    ref.append({k: v.copy() for k, v in p.items()})
  return ref


def test_fira_matches_reference():
  lr, rank, T, alpha, eps = 1e-2, 2, 3, 0.25, 1e-6
  params, grads = _params0(), _grads()

  def direction(k, G, P, R, m, v, side, st):
    psi = m / (np.sqrt(v) + eps)
    phi = _chan(psi, side) / (_chan(R, side) + 1e-8)
    S = _limit((G - _back(P, R, side)) * phi, st)
    return alpha * _back(P, psi, side) + S

  svd = lambda k, t, G, side: _svd_proj(G, side, rank)
  ref = _galore_family_ref(params, grads, lr, T, direction, svd)
  opt = baselines.get("fira", learning_rate=lr, rank=rank, update_interval=T, scale=alpha)
  traj, states = _run(opt, params, grads)
  _close(traj, ref)
  # The projector is recomputed at steps 1, 4, 7 only.
  projs = [np.asarray(s[0].proj[2]) for s in states]
  changed = [k for k in range(1, STEPS) if not np.array_equal(projs[k], projs[k - 1])]
  assert changed == [3, 6]


@pytest.mark.parametrize("mini", [False, True])
def test_apollo_matches_reference(mini):
  lr, T, eps = 1e-2, 3, 1e-6
  rank, scale, kind = (1, math.sqrt(128), "tensor") if mini else (2, 1.0, "channel")
  params, grads = _params0(), _grads()
  name = "apollo_mini" if mini else "apollo"
  hp = {} if mini else {"rank": rank}
  opt = baselines.get(name, learning_rate=lr, update_interval=T, **hp)
  traj, states = _run(opt, params, grads)
  idx = {"v": 1, "w": 2}
  # The random projectors are the optimizer's draws: read them from its state.
  drawn = {k: [np.asarray(s[0].proj[i], np.float64) for s in states] for k, i in idx.items()}
  for k in idx:
    assert drawn[k][0].shape == (min(SHAPES[k]), rank)
    changed = [j for j in range(1, STEPS) if not np.array_equal(drawn[k][j], drawn[k][j - 1])]
    assert changed == [3, 6], (k, changed)

  def direction(k, G, P, R, m, v, side, st):
    Rt = m / (np.sqrt(v) + eps)
    if kind == "channel":
      s = _chan(Rt, side) / (_chan(R, side) + 1e-8)
    else:
      s = np.linalg.norm(Rt) / (np.linalg.norm(R) + 1e-8)
    return scale * _limit(G * s, st)

  from_state = lambda k, t, G, side: drawn[k][t - 1]
  # APOLLO-Mini's scale sqrt(128) multiplies float32 rounding of the update by 11: atol 1e-5.
  _close(
    traj,
    _galore_family_ref(params, grads, lr, T, direction, from_state),
    atol=1e-5 if mini else ATOL,
  )


def test_online_subspace_descent_matches_reference():
  lr, rank, eta, alpha, b1, b2, eps = 1e-2, 2, 0.1, 0.25, 0.9, 0.999, 1e-6
  params, grads = _params0(), _grads()
  p = {k: v.copy() for k, v in params.items()}
  st = {k: {"m": 0.0, "v": 0.0} for k in p}
  ref = []
  for t, g in enumerate(grads, start=1):
    step = _galore_step(t, b1, b2)
    for k in p:
      if k == "b":
        m, v = _adam(st[k], g[k], b1, b2)
        p[k] = p[k] - lr * step * m / (np.sqrt(v) + eps)
        continue
      side = _side(SHAPES[k])
      if t == 1:
        st[k]["P"] = _svd_proj(g[k], side, rank)
      else:  # one gradient step of online PCA, closed form, on H = G (left) or Gᵀ (right)
        P = st[k]["P"]
        H = (g[k] if side == "left" else g[k].T) / np.linalg.norm(g[k])
        E = H - P @ P.T @ H
        st[k]["P"] = P + eta * 2 * (E @ H.T @ P + H @ E.T @ P)
      P = st[k]["P"]
      m_v = _adam(st[k], _proj(P, g[k], side), b1, b2)
      p[k] = p[k] - lr * alpha * step * _back(P, m_v[0] / (np.sqrt(m_v[1]) + eps), side)
    ref.append({k: v.copy() for k, v in p.items()})
  opt = baselines.get("online_subspace_descent", learning_rate=lr, rank=rank, proj_lr=eta)
  traj, _ = _run(opt, params, grads)
  _close(traj, ref)


@pytest.mark.parametrize("projection", ["svd", "random", "block"])
def test_frugal_matches_reference(projection):
  lr, T, rho, kappa, b1, b2, eps = 1e-2, 3, 0.5, 0.7, 0.9, 0.999, 1e-6
  params, grads = _params0(), _grads()
  opt = baselines.get(
    "frugal",
    learning_rate=lr,
    density=rho,
    update_interval=T,
    projection=projection,
    state_free_scale=kappa,
  )
  traj, states = _run(opt, params, grads)
  rank = int(rho * 4)
  idx = {"v": 1, "w": 2}
  p = {k: v.copy() for k, v in params.items()}
  st = {k: {"m": 0.0, "v": 0.0} for k in p}
  key = jax.random.PRNGKey(0)
  ref = []
  for t, g in enumerate(grads, start=1):
    tau = (t - 1) % T + 1
    if (t - 1) % T == 0:  # a new subspace: the state-full moments restart
      for k in idx:
        st[k]["m"], st[k]["v"] = 0.0, 0.0
    if projection == "block":  # 2 matrices, density 0.5: one state-full block per period
      active = np.asarray(pj.sampled_groups(jnp.int32(t - 1), T, 2, 1, key))
    for k in p:
      if k == "b":
        m, v = _adam(st[k], g[k], b1, b2)
        p[k] = p[k] - lr * _galore_step(t, b1, b2) * m / (np.sqrt(v) + eps)
        continue
      side = _side(SHAPES[k])
      if projection == "block":
        if active[idx[k] - 1]:
          m, v = _adam(st[k], g[k], b1, b2)
          u = _galore_step(tau, b1, b2) * m / (np.sqrt(v) + eps)
        else:
          u = kappa * np.sign(g[k])
        p[k] = p[k] - lr * u
        continue
      if (t - 1) % T == 0:
        if projection == "svd":
          st[k]["P"] = _svd_proj(g[k], side, rank)
        else:
          st[k]["P"] = np.asarray(states[t - 1][0].proj[idx[k]], np.float64)
          np.testing.assert_allclose(st[k]["P"].T @ st[k]["P"], np.eye(rank), atol=1e-5)
      P = st[k]["P"]
      R = _proj(P, g[k], side)
      m, v = _adam(st[k], R, b1, b2)
      a = _galore_step(tau, b1, b2) * m / (np.sqrt(v) + eps)
      p[k] = p[k] - lr * (_back(P, a, side) + kappa * np.sign(g[k] - _back(P, R, side)))
    ref.append({k: v.copy() for k, v in p.items()})
  _close(traj, ref)


@pytest.mark.parametrize("levels", [1, 2])
def test_gwt_matches_reference(levels):
  lr, alpha, b1, b2, eps = 1e-2, 0.25, 0.9, 0.999, 1e-6
  params, grads = _params0(), _grads()
  shapes = {"b": (4,), "v": (4, 8), "w": (6, 4)}
  rng = np.random.default_rng(5)
  params = {k: rng.normal(size=s).astype(np.float32).astype(np.float64) for k, s in shapes.items()}
  grads = [
    {k: rng.normal(size=s).astype(np.float32).astype(np.float64) for k, s in shapes.items()}
    for _ in range(STEPS)
  ]

  def haar_matrix(n):  # orthonormal one-level Haar analysis matrix: [approx; detail] = H x
    H = np.zeros((n, n))
    for j in range(n // 2):
      H[j, 2 * j] = H[j, 2 * j + 1] = 1 / math.sqrt(2)
      H[n // 2 + j, 2 * j], H[n // 2 + j, 2 * j + 1] = 1 / math.sqrt(2), -1 / math.sqrt(2)
    return H

  def dwt(G):
    details, A = [], G
    for _ in range(levels):
      C = A @ haar_matrix(A.shape[1]).T
      half = A.shape[1] // 2
      A, D = C[:, :half], C[:, half:]
      details.append(D)
    return A, details

  def idwt(A, details):
    for D in reversed(details):
      A = np.concatenate([A, D], axis=1) @ haar_matrix(2 * A.shape[1])  # Hᵀ = H⁻¹
    return A

  p = {k: v.copy() for k, v in params.items()}
  st = {k: {"m": 0.0, "v": 0.0} for k in p}
  ref = []
  for t, g in enumerate(grads, start=1):
    step = _galore_step(t, b1, b2)
    for k in p:
      if k == "b":
        m, v = _adam(st[k], g[k], b1, b2)
        p[k] = p[k] - lr * step * m / (np.sqrt(v) + eps)
        continue
      A, details = dwt(g[k])
      m, v = _adam(st[k], A, b1, b2)
      scaled = [
        D / (np.repeat(np.sqrt(v), 2 ** (levels - lvl), axis=1) + eps)
        for lvl, D in enumerate(details, start=1)
      ]
      p[k] = p[k] - lr * alpha * step * idwt(m / (np.sqrt(v) + eps), scaled)
    ref.append({k: v.copy() for k, v in p.items()})
  opt = baselines.get("gwt", learning_rate=lr, levels=levels, scale=alpha)
  traj, states = _run(opt, params, grads)
  assert states[0][0].mu[1].shape == (4, 8 // 2**levels)
  _close(traj, ref)


def _adamw_torch(s, g, p, t, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
  m, v = _adam(s, g, b1, b2)
  return (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps) + wd * p


@pytest.mark.parametrize("order", ["ascending", "descending", "random"])
def test_badam_matches_reference(order):
  lr, K, wd = 1e-2, 2, 0.1
  params, grads = _params0(), _grads()
  opt = baselines.get("badam", learning_rate=lr, switch_every=K, order=order, weight_decay=wd)
  traj, _ = _run(opt, params, grads)
  names = ["b", "v", "w"]  # one block per leaf, in flattening order
  key = jax.random.PRNGKey(0)
  p = {k: v.copy() for k, v in params.items()}
  st = {k: {"m": 0.0, "v": 0.0} for k in p}
  ref = []
  for t, g in enumerate(grads):
    if order == "random":
      block = int(pj.cyclic_block(jnp.int32(t), K, 3, "random", key))
    else:
      pos = (t // K) % 3
      block = pos if order == "ascending" else 2 - pos
    if t % K == 0:  # a switch drops the Adam state
      st = {k: {"m": 0.0, "v": 0.0} for k in p}
    k = names[block]
    p[k] = p[k] - lr * _adamw_torch(st[k], g[k], p[k], t % K + 1, wd=wd)
    ref.append({k: v.copy() for k, v in p.items()})
  _close(traj, ref)
  moved = [
    sorted(k for k in names if not np.array_equal(a[k], b[k])) for a, b in itertools.pairwise(traj)
  ]
  assert all(len(m) == 1 for m in moved)


def test_lisa_matches_reference():
  lr, gamma, K, wd = 1e-2, 1, 2, 0.1
  params, grads = _params0(), _grads()
  layer_fn = lambda p: {"b": -1, "v": 0, "w": 1}  # b: always trained (embedding/head role)
  opt = baselines.get(
    "lisa", learning_rate=lr, num_active=gamma, period=K, weight_decay=wd, layer_fn=layer_fn
  )
  traj, _ = _run(opt, params, grads)
  key = jax.random.PRNGKey(0)
  p = {k: v.copy() for k, v in params.items()}
  st = {k: {"m": 0.0, "v": 0.0, "t": 0} for k in p}
  ref, active_w = [], []
  for t, g in enumerate(grads):
    layers = np.asarray(pj.sampled_groups(jnp.int32(t), K, 2, gamma, key))
    on = {"b": True, "v": bool(layers[0]), "w": bool(layers[1])}
    active_w.append(on["w"])
    for k in p:
      if on[k]:  # frozen layers keep their moments and their own step count
        st[k]["t"] += 1
        p[k] = p[k] - lr * _adamw_torch(st[k], g[k], p[k], st[k]["t"], wd=wd)
    ref.append({k: v.copy() for k, v in p.items()})
  _close(traj, ref)
  assert 0 < sum(active_w) < STEPS  # both layers were sampled at some point
