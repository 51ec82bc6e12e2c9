"""Shared pytest set-up: XLA:CPU compiles without LLVM's optimizations, a persistent JAX
compilation cache so reruns skip compiling; tests that share a module's fixture run on one
xdist worker (`--dist loadgroup`, pyproject.toml).

Both settings are also handed to the programs tests start as subprocesses (environment), so
that a subprocess compiles as the tests do and loads what the tests before it compiled.
"""

import os

import jax
import pytest

try:  # pytest >= 9: structured node ids
  from _pytest.nodeid import NodeId
except ImportError:
  NodeId = None

# Tests compile many small programs and run each briefly: compiling is most of their time,
# and LLVM's optimization passes most of that (a learned-optimizer family's meta-training
# test: CPU 32 s -> 17 s; Adam on the zoo's CNN, autoencoder and LM tasks for 300 steps:
# 45 s -> 39 s). The programs compute the same operations; results differ by float32
# rounding, which ill-conditioned linear algebra amplifies (FOSI's and MKOR's reference
# checks: up to 3e-4 relative). A level the caller set in XLA_FLAGS is kept; subprocesses
# inherit the flag.
FAST_COMPILE = "--xla_backend_optimization_level=0"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FAST_COMPILE}".strip()

_CACHE = os.path.abspath(
  os.environ.get(
    "JAX_COMPILATION_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".jax_cache")
  )
)
os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
jax.config.update("jax_compilation_cache_dir", _CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
  """Marks the tests that use a fixture of their own module broader than one test (a run
  several tests read) with one `xdist_group` per module: the fixture then runs once, on one
  worker, instead of once on each worker that draws one of those tests.

  First among the hooks, so that xdist's (which turns the mark into the `@<group>` suffix
  of the node id its scheduler groups by) sees the marks. Under pytest 9, whose node ids
  are `_id` records, xdist 3.8's suffix (written to the old `_nodeid`) is lost: the suffix
  is written here instead.
  """
  for item in items:
    module = item.nodeid.split("::")[0]
    defs = getattr(item, "_fixtureinfo", None)
    shared = defs is not None and any(
      d.scope != "function" and d.baseid == module
      for fixturedefs in defs.name2fixturedefs.values()
      for d in fixturedefs
    )
    if shared:
      item.add_marker(pytest.mark.xdist_group(module))
      structured = NodeId is not None and isinstance(getattr(item, "_id", None), NodeId)
      if structured and config.getoption("loadgroup", False):
        item._id = NodeId.parse(f"{item.nodeid}@{module}")


def _max_map_count(default=65530):
  try:
    with open("/proc/sys/vm/max_map_count") as f:
      return int(f.read())
  except (OSError, ValueError):
    return default


# Programs are dropped once the process holds half the kernel's memory-map limit, or 2 GiB.
_MAP_BUDGET = _max_map_count() // 2
_RESIDENT_BUDGET = 2 * 2**30


def _over_budget():
  """Whether this process's memory mappings or resident memory are over budget (True where
  /proc does not tell)."""
  try:
    with open("/proc/self/maps", "rb") as f:
      regions = sum(1 for _ in f)
    with open("/proc/self/statm") as f:
      resident = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
  except (OSError, ValueError):
    return True
  return regions > _MAP_BUDGET or resident > _RESIDENT_BUDGET


@pytest.fixture(autouse=True)
def _release_compiled_programs():
  """Drops the compiled programs when a test ends with the process near its memory limits.

  XLA:CPU maps memory for every executable it keeps; a whole suite's worth (thousands of
  optimizers x checks) in one process can exhaust the kernel's map count
  (vm.max_map_count) and crash the compiler. Clearing after every test instead would
  recompile what tests share (eager operations, module fixtures' programs) test after test;
  the persistent cache serves only programs that took 0.5 s or more to compile.
  """
  yield
  if _over_budget():
    jax.clear_caches()
