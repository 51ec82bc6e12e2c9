"""The import layers, read from the source with `ast` (nothing is imported):

cli            nothing of ours
tasks          nothing of ours but itself
baselines      nothing of ours but itself; `baselines/suite/` (the comparison suite, run by
               `baselines/compare.py`) is the one part that imports tasks and learned_opt
learned_opt    baselines, never tasks or meta_train
meta_train     any of them
"""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
OURS = ("baselines", "tasks", "learned_opt", "meta_train", "configs", "cli", "bench")


def _module_name(path: pathlib.Path) -> str:
  parts = list(path.relative_to(ROOT).with_suffix("").parts)
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path) -> set[str]:
  """Every module `path` imports (absolute names; relative imports resolved)."""
  module = _module_name(path)
  package = module if path.name == "__init__.py" else module.rpartition(".")[0]
  out = set()
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      out |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
      out.add(base)
      out |= {f"{base}.{a.name}" for a in node.names}
  return out


def _ours(path: pathlib.Path) -> set[str]:
  """The top-level packages of ours that `path` imports."""
  return {m.split(".")[0] for m in _imports(path)} & set(OURS)


def _files(package: str) -> list[pathlib.Path]:
  files = sorted((ROOT / package).rglob("*.py"))
  assert files, package
  return files


def _rel(path: pathlib.Path) -> str:
  return str(path.relative_to(ROOT))


def test_the_walk_sees_imports():
  """The walker itself: relative and absolute imports, `from x import y` as x and x.y."""
  compare = ROOT / "baselines" / "compare.py"
  assert "baselines.suite.compare" in _imports(compare)
  assert "cli" in _ours(compare)


def test_baselines_outside_the_suite_import_only_baselines():
  command = ROOT / "baselines" / "compare.py"  # the suite's command line: cli + baselines.suite
  bad = []
  for path in _files("baselines"):
    if "suite" in path.relative_to(ROOT / "baselines").parts:
      continue
    allowed = {"baselines", "cli"} if path == command else {"baselines"}
    bad += [f"{_rel(path)} imports {m}" for m in sorted(_ours(path) - allowed)]
    if path != command:
      bad += [
        f"{_rel(path)} imports {m}" for m in _imports(path) if m.startswith("baselines.suite")
      ]
  assert not bad, "\n".join(bad)


def test_the_suite_is_where_baselines_meets_tasks_and_learned_opt():
  suite = set().union(*(_ours(p) for p in _files("baselines/suite")))
  assert {"tasks", "learned_opt"} <= suite
  assert "meta_train" not in suite


def test_tasks_import_nothing_of_ours():
  bad = [f"{_rel(p)} imports {m}" for p in _files("tasks") for m in sorted(_ours(p) - {"tasks"})]
  assert not bad, "\n".join(bad)


def test_learned_opt_imports_neither_tasks_nor_meta_train():
  bad = [
    f"{_rel(p)} imports {m}"
    for p in _files("learned_opt")
    for m in sorted(_ours(p) & {"tasks", "meta_train"})
  ]
  assert not bad, "\n".join(bad)


def test_cli_imports_nothing_of_ours_nor_jax():
  for path in _files("cli"):
    imported = {m.split(".")[0] for m in _imports(path)}
    assert not imported & {*OURS, "jax", "optax", "flax"}, f"{_rel(path)} imports {imported}"
