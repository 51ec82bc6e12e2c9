"""Lists the registry: `python -m baselines.list [--json | --markdown]`.

Without a flag, a readable table. With `--json`, a JSON array with one object per entry:
`{"name", "ids", "tier", "status", "source", "reference", "reason"}` (`reference`: what the
rule was checked against, and the deviations kept). With `--markdown`, the document
committed as `docs/optimizers.md` (`python -m baselines.list --markdown > docs/optimizers.md`;
a test checks that the two agree): per inventory tier, every entry with its family, ids,
source, paper and reference; then the implemented procedures that are not update rules
(tuners of the comparison suite, scaling rules) with where they live; then the entries
registered as not applicable, with the reason.
"""

from __future__ import annotations

import json

from absl import app, flags

import baselines
from baselines import registry

_JSON = flags.DEFINE_bool("json", False, "Print a JSON array instead of a table.")
_MARKDOWN = flags.DEFINE_bool("markdown", False, "Print docs/optimizers.md instead of a table.")


def rows() -> list[dict]:
  return [
    {
      "name": e.name,
      "ids": list(e.ids),
      "tier": e.tier,
      "status": e.status,
      "source": e.source,
      "reference": e.reference,
      "reason": e.reason,
    }
    for e in baselines.entries()
  ]


def table(rs: list[dict]) -> str:
  header = ("name", "ids", "tier", "status", "source", "reason")
  cells = [
    (r["name"], ",".join(r["ids"]), str(r["tier"] or ""), r["status"], r["source"], r["reason"])
    for r in rs
  ]
  widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header[:-1])]
  fmt = lambda c: "  ".join(x.ljust(w) for x, w in zip(c, widths, strict=False)) + "  " + c[-1]
  return "\n".join([fmt(header), *(fmt(c) for c in cells)])


def _cell(text: str) -> str:
  return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
  """docs/optimizers.md: the registry by tier, the procedures, the not-applicable entries."""
  es = baselines.entries()
  implemented = [e for e in es if e.status == "implemented" and e.factory is not None]
  procedures = [e for e in es if e.status == "implemented" and e.factory is None]
  lines = [
    "# Optimizers",
    "",
    "Generated from the registry by `python -m baselines.list --markdown > docs/optimizers.md`",
    "(`tests/test_baselines_list.py` checks that this file is the command's output). Each",
    "entry is built with `baselines.get(name, **hparams)`; its rule and its registration live",
    "in the subpackage `baselines/<family>/` (the rule in `_<name>.py` where this project",
    "writes it, the entry in `entries.py`). Source `optax`: optax's own function (or a thin",
    "factory fixing its arguments); `project`: written here. Checked against: what a",
    "project-written rule was compared with line by line (the authors' code, or the paper's",
    "algorithm where no code is public), and the deviations from it that were kept.",
    "",
    "Ids and tiers index the project's inventory of the optimization methods named in the",
    "papers it started from, numbered `T<tier>-<nn>`. Entries without a tier are comparison",
    "peers outside the inventory.",
    "",
    f"{len(implemented)} implemented update rules, {len(procedures)} implemented procedures, "
    f"{len(es) - len(implemented) - len(procedures)} not applicable.",
    "",
    "| tier | methods |",
    "| --- | --- |",
    *(f"| {t} | {what} |" for t, what in registry.TIERS.items()),
  ]
  tiers = [*registry.TIERS, None]
  for tier in tiers:
    group = [e for e in implemented if e.tier == tier]
    title = f"Tier {tier}: {registry.TIERS[tier]}" if tier else "Outside the inventory"
    lines += ["", f"## {title}", "", "| name | family | ids | source | paper | checked against |"]
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for e in group:
      ids = ", ".join(e.ids)
      fam = registry.family(e.name)
      lines.append(
        f"| `{e.name}` | {fam} | {ids} | {e.source} | {_cell(e.paper)} | {_cell(e.reference)} |"
      )
  lines += [
    "",
    "## Procedures",
    "",
    "Implemented methods that are not update rules: they choose an optimizer's",
    "hyperparameters (`baselines.get` refuses them and names the function to use).",
    "",
    "| name | family | ids | tier | paper | where | checked against |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ]
  for e in procedures:
    ids, fam = ", ".join(e.ids), registry.family(e.name)
    lines.append(
      f"| `{e.name}` | {fam} | {ids} | {e.tier or ''} | {_cell(e.paper)} | "
      f"{_cell(e.procedure)} | {_cell(e.reference)} |"
    )
  lines += ["", "## Not applicable", "", "| name | family | ids | tier | why |"]
  lines.append("| --- | --- | --- | --- | --- |")
  for e in es:
    if e.status == "implemented":
      continue
    why = f"{e.reason} ({e.paper})" if e.paper else e.reason
    ids = ", ".join(e.ids)
    fam = registry.family(e.name)
    lines.append(f"| `{e.name}` | {fam} | {ids} | {e.tier or ''} | {_cell(why)} |")
  return "\n".join(lines)


def main(argv: list[str]) -> None:
  del argv
  if _MARKDOWN.value:
    print(markdown())
    return
  rs = rows()
  print(json.dumps(rs, indent=1) if _JSON.value else table(rs))


if __name__ == "__main__":
  app.run(main)
