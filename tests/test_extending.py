"""Adding a family is one folder plus its params: nothing else in the repository changes.

In a temporary workspace a toy classifying family and a toy ranking family are added, each as one folder under
src/sasnet/models with its (empty) params section and one models or rankers entry. Then `dvc repro` must train,
score and report them, dvc.yaml's code deps must still be current, and `python -m sasnet.inference` must serve both.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest
from workspace import command_env, make_workspace, pinned_params

pytestmark = pytest.mark.slow

TOY_CLASSIFIER = {
    "__init__.py": '''
        """A toy family: the train class shares for every example."""
        from dataclasses import dataclass

        READS = "ratings"


        @dataclass(frozen=True)
        class Config:
            pass


        MODEL = "ToyRecommender"
        TASKS = ("classify",)
        ''',
    "model.py": '''
        import numpy as np

        from sasnet.models.base import FitResult, Recommender


        class ToyRecommender(Recommender):
            def fit_classes(self, data, progress):
                train = data.labels[data.rows_of("train")]
                self.shares = np.bincount(train, minlength=len(self.class_names)) / len(train)
                return FitResult({"train_reviews": len(train)})

            def predict_proba(self, data, examples):
                return np.tile(self.shares, (len(examples), 1))

            def arrays(self):
                return {"shares": self.shares}

            def restore(self, arrays, state, data):
                self.shares = arrays["shares"]
        ''',
}
TOY_RANKER = {
    "__init__.py": '''
        """A toy ranking family: items by their train interactions."""
        from dataclasses import dataclass

        READS = "ratings"


        @dataclass(frozen=True)
        class Config:
            pass


        MODEL = "ToyRanker"
        TASKS = ("rank",)
        ''',
    "model.py": '''
        import numpy as np

        from sasnet.models.base import FitResult, Recommender


        class ToyRanker(Recommender):
            def fit_ranking(self, data, validation, progress):
                self.counts = data.train_counts.astype(np.float32)
                return FitResult({})

            def score(self, data, split, users):
                return np.broadcast_to(self.counts, (len(users), len(self.counts)))

            def arrays(self):
                return {"counts": self.counts}

            def restore(self, arrays, state, data):
                self.counts = arrays["counts"]
        ''',
}


def workspace_run(workspace, *command: str) -> str:
    """Run ``command`` with the workspace's own src first on the path (the toy families live there)."""
    env = command_env() | {"PYTHONPATH": str(workspace / "src")}
    done = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_a_new_family_is_one_folder_and_its_params(tmp_path, tiny_llm_dir):
    params = pinned_params(tiny_llm_dir)
    params["models"] = {"majority": params["models"]["majority"], "toy_model": {"family": "toyclass", "input": "split"}}
    params["rankers"] = {"popularity": params["rankers"]["popularity"],
                         "toy_ranker": {"family": "toyrank", "input": "rank_split"}}
    params["toyclass"], params["toyrank"] = {}, {}
    workspace = make_workspace(tmp_path, params)
    before = (workspace / "dvc.yaml").read_text()
    for name, files in (("toyclass", TOY_CLASSIFIER), ("toyrank", TOY_RANKER)):
        folder = workspace / "src/sasnet/models" / name
        folder.mkdir()
        for file, text in files.items():
            (folder / file).write_text(textwrap.dedent(text).lstrip())
    for command in (("git", "init", "-q"), ("git", "config", "user.email", "ci@example.invalid"),
                    ("git", "config", "user.name", "ci"), ("git", "add", "-A"), ("git", "commit", "-qm", "toys")):
        workspace_run(workspace, *command)

    workspace_run(workspace, "dvc", "repro")
    assert (workspace / "dvc.yaml").read_text() == before
    assert "code deps are current" in workspace_run(workspace, "python", "-m", "sasnet.code_deps", "--check")
    model = json.loads((workspace / "metrics/models/toy_model.json").read_text())
    assert model["family"] == "toyclass" and 0 < model["test"]["accuracy"] < 1
    ranker = json.loads((workspace / "metrics/rankers/toy_ranker.json").read_text())
    assert ranker["family"] == "toyrank" and "ndcg@10" in ranker["test"]
    results = (workspace / "results.md").read_text()
    assert "| toy_model |" in results and "toy_ranker" in results

    first_test = ("import pandas as p; r = p.read_parquet('data/split/test.parquet'); "
                  "print(r.user_id.iloc[0], r.business_id.iloc[0], sep='\\t')")
    user, business = workspace_run(workspace, "python", "-c", first_test).strip().split("\t")
    served = workspace_run(workspace, "python", "-m", "sasnet.inference", "--model", "toy_model", "predict",
                           user, business)
    assert str(business) in served
    users = workspace_run(workspace, "python", "-c", "import pandas as p; print(p.read_parquet("
                          "'data/rank_split/interactions.parquet').user_id.iloc[0])").strip()
    assert "rank" in workspace_run(workspace, "python", "-m", "sasnet.inference", "--ranker", "toy_ranker",
                                   "recommend", users, "--top-k", "3")
