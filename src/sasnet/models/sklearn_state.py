"""Fitted scikit-learn estimators as safetensors arrays plus JSON, never pickle.

An estimator is its constructor params (``get_params``) plus the attributes ``fit`` set: arrays go to safetensors
(a sparse matrix as its CSR data, indices and indptr), scalars to JSON. Only the classes in ``ESTIMATORS`` are rebuilt, so loading never imports or runs code a file
names. A fitted attribute of any other type raises, so an unsupported estimator fails when saved, not when used.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

ESTIMATORS = {cls.__name__: cls for cls in (StandardScaler, SVC, LinearSVC, LogisticRegression)}
SCALARS = (bool, int, float, str, type(None))


def pipeline_state(pipeline: Pipeline, prefix: str) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Arrays named ``<prefix>.<step>.<attribute>``, and per step its class, params and scalar attributes."""
    arrays, steps = {}, []
    for step, estimator in pipeline.steps:
        kind = type(estimator).__name__
        if kind not in ESTIMATORS:
            raise TypeError(f"cannot save a {kind}: supported estimators are {', '.join(ESTIMATORS)}")
        params = estimator.get_params(deep=False)
        scalars = {}
        for name, value in vars(estimator).items():
            if name in params:
                continue
            if isinstance(value, np.ndarray):
                arrays[f"{prefix}.{step}.{name}"] = np.ascontiguousarray(value)
            elif sp.issparse(value):
                csr = value.tocsr()
                for part in ("data", "indices", "indptr"):
                    arrays[f"{prefix}.{step}.{name}.{part}"] = np.ascontiguousarray(getattr(csr, part))
                scalars[name] = {"csr": list(csr.shape)}
            elif isinstance(value, np.generic):
                scalars[name] = value.item()
            elif isinstance(value, tuple) and all(isinstance(item, int) for item in value):
                scalars[name] = {"tuple": list(value)}
            elif isinstance(value, SCALARS):
                scalars[name] = value
            else:
                raise TypeError(f"cannot save {kind}.{name} of type {type(value).__name__}")
        steps.append({"step": step, "class": kind, "params": params, "scalars": scalars})
    return arrays, steps


def load_pipeline(arrays: dict[str, np.ndarray], steps: list[dict[str, Any]], prefix: str) -> Pipeline:
    """The Pipeline ``pipeline_state`` described, fitted state restored."""
    arrays, built = dict(arrays), []
    for entry in steps:
        estimator = ESTIMATORS[entry["class"]](**entry["params"])
        array_prefix = f"{prefix}.{entry['step']}."
        for name, value in entry["scalars"].items():
            if isinstance(value, dict) and "csr" in value:
                parts = [arrays.pop(f"{array_prefix}{name}.{part}") for part in ("data", "indices", "indptr")]
                value = sp.csr_matrix(tuple(parts), shape=tuple(value["csr"]))
            elif isinstance(value, dict):
                value = tuple(value["tuple"])
            setattr(estimator, name, value)
        for key, value in arrays.items():
            if key.startswith(array_prefix):
                setattr(estimator, key.removeprefix(array_prefix), value)
        built.append((entry["step"], estimator))
    return Pipeline(built)
