"""Registry entries of weight averaging and model merging (inventory T5-43 to T5-47).

These are procedures on parameter pytrees (checkpoints, fine-tuned models, workers' models),
not optimizer steps: each is registered as not applicable, its reason naming the function of
`baselines.merging` that implements it. The entry format is in the module docstring of
`baselines.registry`.
"""

from __future__ import annotations

from baselines.registry import Entry, register

_PROCEDURES = (
  (
    "lcsc",
    ("T5-43",),
    "a checkpoint-merging procedure after training, not an optimizer step: "
    "baselines.merging.linear_combination and baselines.merging.lcsc_search",
  ),
  (
    "single_final_merge",
    ("T5-44",),
    "a model-merging procedure (one global average of the decentralized workers' models at "
    "the end of training), not an optimizer step: baselines.merging.uniform_average",
  ),
  (
    "adamerging",
    ("T5-45",),
    "a model-merging procedure (merge coefficients learned by entropy minimization on "
    "unlabeled data), not an optimizer step: baselines.merging.adamerging",
  ),
  (
    "task_arithmetic",
    ("T5-46",),
    "a model-merging procedure, not an optimizer step: baselines.merging.task_arithmetic",
  ),
  (
    "adamms",
    ("T5-47",),
    "a model-merging procedure for heterogeneous models (parameter mapping, linear "
    "interpolation, label-free choice of the coefficient), not an optimizer step: "
    "baselines.merging.adamms_merge and baselines.merging.adamms_select",
  ),
)
for _name, _ids, _reason in _PROCEDURES:
  register(
    Entry(
      name=_name,
      factory=None,
      defaults={},
      search_space={},
      ids=_ids,
      tier=5,
      source="project",
      status="not-applicable",
      reason=_reason,
    )
  )
