"""Pretrained learned optimizers shipped in the package, loaded offline by name.

    >>> import learned_opt
    >>> learned_opt.pretrained.names()  # doctest: +NORMALIZE_WHITESPACE
    ['nino_zoo', 'nino_zoo_8k', 'nino_zoo_v2', 'nino_zoo_v2_guided', 'residual_muon_v1',
     'residual_muon_v2', 'residual_muon_v2_avg', 'residual_muon_v4']
    >>> opt = learned_opt.load("pretrained:residual_muon_v4", num_steps=1000)
    >>> opt = learned_opt.load("pretrained:residual_muon_v2", num_steps=1000, learning_rate=0.01)

Each name is a folder beside this file holding an orbax learned-optimizer checkpoint
(`theta/`, `lopt/`: arrays and a JSON record, nothing executable) and a model card
`README.md` (the recipe, its meta-training compute and its evaluation).
"""

from __future__ import annotations

import difflib
import os

PREFIX = "pretrained:"
_HERE = os.path.dirname(os.path.abspath(__file__))


def names() -> list[str]:
  """The shipped pretrained optimizers."""
  return sorted(
    d
    for d in os.listdir(_HERE)
    if os.path.isdir(os.path.join(_HERE, d, "theta"))
    and os.path.isdir(os.path.join(_HERE, d, "lopt"))
  )


def path(name: str) -> str:
  """The checkpoint directory of the pretrained optimizer `name` (`pretrained:` optional);
  an unknown name raises `ValueError` with the close matches."""
  name = name.removeprefix(PREFIX)
  if name not in names():
    close = difflib.get_close_matches(name, names(), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ValueError(f"No pretrained optimizer {name!r}.{hint} Shipped: {names()}.")
  return os.path.join(_HERE, name)
