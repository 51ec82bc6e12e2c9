"""`python -m baselines.list`: the JSON and table outputs cover every inventory id of Tiers 1
and 5, and docs/optimizers.md is the `--markdown` output."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
KEYS = {"name", "ids", "tier", "status", "source", "reference", "reason"}
WANT_IDS = {f"T1-{i:02d}" for i in range(1, 47)} | {f"T5-{i:02d}" for i in range(1, 48)}


def _list(*args):
  out = subprocess.run(
    [sys.executable, "-m", "baselines.list", *args],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    check=True,
  )
  return out.stdout


@pytest.fixture(scope="module")
def rows():
  return json.loads(_list("--json"))


def test_json_rows_are_well_formed(rows):
  assert isinstance(rows, list) and rows
  for r in rows:
    assert isinstance(r, dict) and set(r) == KEYS, r
    assert r["status"] in ("implemented", "not-applicable"), r
    if r["status"] == "not-applicable":
      assert r["reason"].strip(), r
  names = [r["name"] for r in rows]
  assert len(names) == len(set(names))


def test_every_implemented_rule_says_what_it_was_checked_against(rows):
  # Issue 18: a rule tested only against a reference its own authors wrote copies a
  # misreading of the paper into both; each entry names the independent source it was
  # compared with (the authors' code or the paper's algorithm), optax's own for optax's.
  unchecked = [
    r["name"] for r in rows if r["status"] == "implemented" and not r["reference"].strip()
  ]
  assert not unchecked, f"entries without a reference: {unchecked}"


def test_every_tier1_and_tier5_id_is_listed(rows):
  listed = {i for r in rows for i in r["ids"]}
  missing = sorted(WANT_IDS - listed)
  assert not missing, f"ids without a registry entry: {missing}"


def test_table_has_a_header_and_one_line_per_entry(rows):
  lines = _list().rstrip("\n").split("\n")
  assert len(lines) == len(rows) + 1
  assert lines[0].split()[:5] == ["name", "ids", "tier", "status", "source"]
  assert [line.split()[0] for line in lines[1:]] == [r["name"] for r in rows]


def test_docs_optimizers_md_is_the_markdown_output(rows):
  with open(ROOT / "docs" / "optimizers.md") as f:
    committed = f.read()
  assert committed == _list("--markdown"), (
    "docs/optimizers.md is stale: python -m baselines.list --markdown > docs/optimizers.md"
  )
  for r in rows:
    assert f"| `{r['name']}` |" in committed
