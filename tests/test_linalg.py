"""baselines.linalg: jnp.linalg's decompositions, one matrix per LAPACK call.

The reproducer of the XLA:CPU wedge (jaxlib 0.10's batched LAPACK kernels waiting on the
thread pool they run on) runs in a subprocess with a timeout, so that a wedge fails the
test instead of hanging pytest.
"""

import pathlib
import re
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from baselines import linalg

ROOT = pathlib.Path(__file__).resolve().parents[1]

_KEY = jax.random.PRNGKey(0)
_A = jax.random.normal(_KEY, (3, 2, 5, 5))
_SPD = _A @ jnp.swapaxes(_A, -1, -2) + jnp.eye(5)
_B = jax.random.normal(jax.random.PRNGKey(1), (3, 2, 5))

# name -> (ours, jnp.linalg's, arguments with two batch axes)
CASES = {
  "eigh": (linalg.eigh, jnp.linalg.eigh, (_SPD,)),
  "qr": (linalg.qr, jnp.linalg.qr, (_A,)),
  "svd": (linalg.svd, lambda a: jnp.linalg.svd(a, full_matrices=False), (_A,)),
  "solve": (linalg.solve, jnp.vectorize(jnp.linalg.solve, signature="(n,n),(n)->(n)"), (_SPD, _B)),
}


def _flat(tree):
  return np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])


def _lapack_operand_ranks(lowered_text: str) -> list[int]:
  """The rank of every operand of every LAPACK custom call in a lowered program."""
  calls = [line for line in lowered_text.splitlines() if "custom_call @lapack_" in line]
  assert calls, "no LAPACK call in the program"
  return [int(r) for line in calls for r in re.findall(r"tensor<(\d+)xindex>", line)]


def _weighted_sum(f):  # a weighting that no sign or order ambiguity of the results cancels
  return lambda *a: sum(jnp.sum(jnp.sin(x) * jnp.arange(x.size).reshape(x.shape)) for x in f(*a))


def test_equals_jnp_linalg_batched_vmapped_and_differentiated():
  """Explicit batch axes, vmapped axes and gradients: jnp.linalg's values (one program)."""

  @jax.jit
  def both():
    out = {}
    for name, (ours, ref, args) in CASES.items():
      out[name] = (
        (ours(*args), jax.vmap(ours)(*args), jax.grad(_weighted_sum(ours))(*args)),
        (ref(*args), ref(*args), jax.grad(_weighted_sum(ref))(*args)),
      )
    return out

  for name, (got, want) in both().items():
    for g, w in zip(got, want, strict=True):
      np.testing.assert_allclose(_flat(g), _flat(w), rtol=1e-4, atol=1e-4, err_msg=name)


def test_one_matrix_per_lapack_call():
  """Batch axes, explicit or vmapped, never reach a LAPACK kernel: every operand is a
  matrix or a vector, where jnp.linalg's own call gets the whole stack."""
  ours = jax.jit(lambda: [jax.vmap(f)(*args) for f, _, args in CASES.values()])
  assert max(_lapack_operand_ranks(ours.lower().as_text())) <= 2
  ref = jax.jit(lambda: [jax.vmap(jnp.linalg.qr)(_A)])
  assert max(_lapack_operand_ranks(ref.lower().as_text())) > 2


def test_solve_refuses_b_without_the_batch_axes():
  with pytest.raises(ValueError, match="batch axes"):
    linalg.solve(_SPD, _B[0])


def test_no_lapack_call_outside_baselines_linalg():
  """Every rule decomposes through baselines.linalg (jnp.linalg.norm computes no LAPACK
  call and stays allowed)."""
  direct = re.compile(r"(jnp\.linalg\.(?!norm\b)\w+|jax\.scipy\.linalg|lax\.linalg)")
  offenders = [
    f"{path.relative_to(ROOT)}: {m.group(0)}"
    for package in ("baselines", "learned_opt", "tasks", "meta_train")
    for path in sorted((ROOT / package).rglob("*.py"))
    if path != ROOT / "baselines" / "linalg.py"
    for m in direct.finditer(path.read_text())
  ]
  assert not offenders, offenders


_WEDGE = textwrap.dedent(
  """
  import jax, jax.numpy as jnp
  from jax import lax
  from baselines import linalg

  # Four independent batched QRs in a cond inside a scan, as SOAP's refresh in a vmapped
  # sweep: with jnp.linalg.qr, jaxlib 0.10.2 on 2 cores wedged in 3 of 6 runs.
  a = tuple(jax.random.normal(jax.random.PRNGKey(k), (24, 64, 64)) for k in range(4))

  def step(carry, _):
    s, qs = carry
    refresh = lambda qs: tuple(linalg.qr(jnp.tanh(x @ q))[0] for x, q in zip(a, qs))
    return (s + 1, lax.cond(s % 2 == 0, refresh, lambda qs: qs, qs)), None

  out = jax.jit(lambda qs: lax.scan(step, (0, qs), None, 600)[0])(a)
  jax.block_until_ready(out)
  print("finished")
  """
)


def test_batched_qr_in_a_loop_does_not_wedge_the_cpu_thread_pool():
  """The reproducer: finishes (a few seconds) instead of waiting forever."""
  try:
    done = subprocess.run(
      [sys.executable, "-c", _WEDGE], capture_output=True, text=True, timeout=120
    )
  except subprocess.TimeoutExpired:
    pytest.fail("the program wedged: every XLA:CPU thread waits on a batched LAPACK call")
  assert done.returncode == 0, done.stderr[-2000:]
  assert "finished" in done.stdout
