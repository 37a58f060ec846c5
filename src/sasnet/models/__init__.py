"""Model families: each is one folder here, found by name, behind one interface (``base.Recommender``).

A family's package (``sasnet/models/<family>/__init__.py``) is light, so validating params.yaml never imports
torch or a recommender library. It defines:

- ``Config``: the frozen dataclass of its params section (params.yaml's top-level key ``<family>``);
- ``READS_EMBEDDING``: whether its models read a review embedding (``input: normalized/<encoder run>`` and a
  ``pooling``) or only the split's reviews (``input: split``);
- ``READS_SEMANTIC_IDS`` (optional, default False): whether its models read the catalogue's semantic IDs and
  metadata (``input: semantic_ids``: data/semantic_ids, ``sasnet.item_codes``);
- ``RECOMMENDER``: the name of its ``Recommender`` subclass in ``<family>/model.py`` (imported only to train or
  predict, by ``recommender_class``), or None for a family that only ranks;
- ``RANKER`` (optional): the name of its ``Ranker`` subclass in ``<family>/model.py``, for a family that ranks the
  catalogue (the ranking task: params.yaml's ``rankers`` map, ``rank@<ranker>`` stages).

A model is one entry of params.yaml's ``models`` map (a family, its input and overrides of the family's section);
a ranker one entry of its ``rankers`` map (a family and overrides).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

FAMILIES = tuple(sorted(module.name for module in pkgutil.iter_modules(__path__) if module.ispkg))


def family(name: str) -> ModuleType:
    """The family's light package (its Config, READS_EMBEDDING and RECOMMENDER)."""
    if name not in FAMILIES:
        raise KeyError(f"unknown model family {name!r}; families: {', '.join(FAMILIES)}")
    return importlib.import_module(f"{__name__}.{name}")


def recommender_class(name: str) -> type:
    """The family's Recommender subclass (this imports its model code: torch, cornac, scikit-learn)."""
    return _model_class(name, family(name).RECOMMENDER)


def ranker_class(name: str) -> type:
    """The family's Ranker subclass (this imports its model code)."""
    return _model_class(name, family(name).RANKER)


def _model_class(name: str, class_name: str) -> type:
    return getattr(importlib.import_module(f"{__name__}.{name}.model"), class_name)


def can_classify(name: str) -> bool:
    return family(name).RECOMMENDER is not None


def can_rank(name: str) -> bool:
    return getattr(family(name), "RANKER", None) is not None
