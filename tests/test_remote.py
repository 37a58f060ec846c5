"""A DVC remote spares a review the recomputation, and the pull-request workflow runs as written.

A toy pipeline (``toy_repo``: two tiny stages, `split` and `train@toy`, laid out like the real one: a test split
with user ids, a classifier's predictions and metrics, a ranker's rankings and metrics, a PNG plot; and, as
dvc.yaml should have it, metrics/headline.json the only declared metrics file, written here by `train@toy` in the
report stage's place) in a git repo whose default remote is a local folder set by `python -m sasnet.remote local`.
The tests:

- push from one clone, clone again, `dvc pull` there: `dvc status` is clean and nothing reran; the review across
  the two revisions reads both from the remote in a third clone that pulled nothing;
- `dvc metrics diff` shows the headline alone, and still reaches every detailed metrics file by name;
- the same round trip through an S3 remote (dvc-s3) on a moto server the test starts on 127.0.0.1; skipped where
  dvc-s3 or moto[server] is not installed or the server does not start;
- the `run:` lines of .github/workflows/review.yml (all but the CML comment) run in a clone of a pull request that
  changed a param without reproducing: the stage it changed reruns, the other is pulled, and review.md names the
  change; so the example cannot drift from what works.

The round trips run `dvc` and git in subprocesses: marked slow.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT

from sasnet import remote

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "review.yml"
REVIEW_STEPS = ("pull", "repro", "review")  # the workflow steps (by id) a test runs; "comment" posts review.md

TOY_FILES = {
    "params.yaml": """\
split:
  users: 60
  reviews_per_user: 5
  seed: 0
models:
  toy: {family: toy, wrong: 30}
rankers:
  toy: {family: toy, shift: 0}
toy:
  seed: 0
""",
    "dvc.yaml": """\
stages:
  split:
    cmd: python split.py
    deps: [split.py]
    params: [split]
    outs:
      - data/split
      - metrics/split.json: {cache: false}
  train:
    foreach: ${models}
    do:
      cmd: python train.py ${key}
      deps: [train.py, data/split]
      params:
        - models.${key}
        - rankers.${key}
        - toy
      outs:
        - data/predictions/${key}.parquet
        - data/rankings/${key}.parquet
        - metrics/models/${key}.json: {cache: false}
        - metrics/rankers/${key}.json: {cache: false}
      metrics:
        - metrics/headline.json: {cache: false}
      plots:
        - plots/${key}.png: {cache: false}
""",
    "split.py": """\
import json, os, time
import numpy as np, pandas as pd, yaml

start = time.time()
config = yaml.safe_load(open("params.yaml"))["split"]
n = config["users"] * config["reviews_per_user"]
frame = pd.DataFrame({"review_id": [f"r{i:04d}" for i in range(n)],
                      "user_id": [f"u{i // config['reviews_per_user']:03d}" for i in range(n)],
                      "label": np.random.default_rng(config["seed"]).integers(0, 3, n)})
os.makedirs("data/split", exist_ok=True)
os.makedirs("metrics", exist_ok=True)
frame.to_parquet("data/split/test.parquet", index=False)
json.dump({"test": {"reviews": n}, "stage_seconds": round(time.time() - start, 2)}, open("metrics/split.json", "w"))
""",
    "train.py": """\
import json, os, struct, sys, time, zlib
import numpy as np, pandas as pd, yaml
from sasnet.classification import classification_report
from sasnet.headline import headline
from sasnet.ranking.metrics import per_user, summary

start = time.time()
name = sys.argv[1]
params = yaml.safe_load(open("params.yaml"))
model, ranker = params["models"][name], params["rankers"][name]
test = pd.read_parquet("data/split/test.parquet")
labels = test["label"].to_numpy()
wrong = np.random.default_rng(params["toy"]["seed"]).permutation(len(labels))[:model["wrong"]]
predicted = labels.copy()
predicted[wrong] = (labels[wrong] + 1) % 3
users = test["user_id"].unique()
ranks = (np.arange(len(users)) * 7) % 40 + ranker["shift"]
for folder in ("data/predictions", "data/rankings", "metrics/models", "metrics/rankers", "plots"):
    os.makedirs(folder, exist_ok=True)
test.drop(columns="user_id").assign(split="test", predicted=predicted).to_parquet(
    f"data/predictions/{name}.parquet", index=False)
pd.DataFrame({"user_id": users, "target": [f"i{i}" for i in range(len(users))], "target_rank": ranks}).to_parquet(
    f"data/rankings/{name}.parquet", index=False)
report = classification_report(labels, predicted, ["bad", "good", "excellent"], 0, 200, 0, 0.95)
ranking = summary(per_user(ranks, 10), 10, 200, 0, 0.95)
seconds = round(time.time() - start, 2)
model_metrics = {"model": name, "family": "toy", "test": report, "stage_seconds": seconds}
ranker_metrics = {"ranker": name, "family": "toy", "test": ranking, "stage_seconds": seconds}
json.dump(model_metrics, open(f"metrics/models/{name}.json", "w"))
json.dump(ranker_metrics, open(f"metrics/rankers/{name}.json", "w"))
json.dump(headline({name: model_metrics}, {name: ranker_metrics}), open("metrics/headline.json", "w"))

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

width = 10 + int(100 * report["accuracy"])  # a grey bar as wide as the accuracy
pixels = b"".join(b"\\x00" + b"\\x80" * width for _ in range(8))
header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, 8, 8, 0, 0, 0, 0))
open(f"plots/{name}.png", "wb").write(b"\\x89PNG\\r\\n\\x1a\\n" + header + chunk(b"IDAT", zlib.compress(pixels))
                                     + chunk(b"IEND", b""))
""",
}


def tool_env() -> dict[str, str]:
    """This Python's `python` and `dvc` first on PATH (DVC runs the stages' `python` through the shell)."""
    return os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                         "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "toy", "GIT_AUTHOR_EMAIL": "toy@example.org",
                         "GIT_COMMITTER_NAME": "toy", "GIT_COMMITTER_EMAIL": "toy@example.org"}


def run(folder: Path, *command: str, env: dict[str, str] | None = None) -> str:
    """Run a command in ``folder``; its stdout (stderr shown when it fails)."""
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env or tool_env())
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def dvc(folder: Path, *arguments: str, env: dict[str, str] | None = None) -> str:
    return run(folder, sys.executable, "-m", "dvc", *arguments, env=env)


def git(folder: Path, *arguments: str) -> str:
    return run(folder, "git", *arguments)


def set_params(folder: Path, **changes: int) -> None:
    """Change toy entries: ``wrong`` (the model's wrong predictions) and ``shift`` (the ranker's ranks)."""
    params = yaml.safe_load((folder / "params.yaml").read_text())
    if "wrong" in changes:
        params["models"]["toy"]["wrong"] = changes["wrong"]
    if "shift" in changes:
        params["rankers"]["toy"]["shift"] = changes["shift"]
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def toy_repo(folder: Path, storage: Path) -> Path:
    """The toy pipeline, reproduced, committed on `main` and pushed to ``storage`` (a local remote)."""
    folder.mkdir(parents=True)
    for name, text in TOY_FILES.items():
        (folder / name).write_text(text)
    git(folder, "init", "-q", "-b", "main")
    dvc(folder, "init")
    run(folder, sys.executable, "-m", "sasnet.remote", "local", str(storage))
    dvc(folder, "repro")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "toy pipeline")
    dvc(folder, "push")
    return folder


def clone(origin: Path, folder: Path, branch: str | None = None) -> Path:
    git(origin.parent, "clone", "-q", *(["-b", branch] if branch else []), str(origin), str(folder))
    return folder


def test_the_remote_commands_are_dvcs_own():
    assert remote.dvc_commands("local", "/srv/dvc") == [
        ["remote", "add", "--default", "--force", "storage", "/srv/dvc"]]
    assert remote.dvc_commands("s3", "s3://bucket/sasnet", "shared", local=True,
                               endpoint_url="http://127.0.0.1:9000", region="eu-west-1") == [
        ["remote", "add", "--local", "--default", "--force", "shared", "s3://bucket/sasnet"],
        ["remote", "modify", "--local", "shared", "endpointurl", "http://127.0.0.1:9000"],
        ["remote", "modify", "--local", "shared", "region", "eu-west-1"]]
    with pytest.raises(ValueError, match="s3://"):
        remote.dvc_commands("s3", "/srv/dvc")
    with pytest.raises(ValueError, match="for an s3 remote"):
        remote.dvc_commands("local", "/srv/dvc", endpoint_url="http://127.0.0.1:9000")


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> Path:
    """The toy on `main`; on branch `pr` a param change, reproduced, committed and pushed; on branch `unpushed`
    another, reproduced and committed but not pushed."""
    base = tmp_path_factory.mktemp("toy")
    folder = toy_repo(base / "origin", base / "storage")
    git(folder, "checkout", "-q", "-b", "pr")
    set_params(folder, wrong=120, shift=25)
    dvc(folder, "repro")
    git(folder, "commit", "-q", "-am", "more wrong predictions, worse ranks")
    dvc(folder, "push")
    git(folder, "checkout", "-q", "-b", "unpushed", "main")
    set_params(folder, wrong=90)
    dvc(folder, "repro")
    git(folder, "commit", "-q", "-am", "more wrong predictions, not pushed")
    git(folder, "checkout", "-q", "main")
    dvc(folder, "checkout")
    return folder


@pytest.mark.slow
def test_a_second_clone_pulls_instead_of_rerunning_and_reviews_from_the_remote(origin, tmp_path):
    second = clone(origin, tmp_path / "second", "pr")
    outputs = ["data/split/test.parquet", "data/predictions/toy.parquet", "data/rankings/toy.parquet"]
    assert not any((second / output).exists() for output in outputs)
    dvc(second, "pull")
    assert json.loads(dvc(second, "status", "--json")) == {}  # pulled outputs match dvc.lock: nothing to rerun
    assert "didn't change" in dvc(second, "repro", "--dry") or "up to date" in dvc(second, "repro", "--dry")

    third = clone(origin, tmp_path / "third", "pr")  # pulls nothing: the review reads both revisions remotely
    text = run(third, sys.executable, "-m", "sasnet.review", "origin/main", "HEAD", "-o", "review.md")
    assert not any((third / output).exists() for output in outputs)
    assert text.strip() == (third / "review.md").read_text().strip()
    assert "| `models.toy.wrong` | `30` | `120` |" in text
    rows = {line.split("|")[1].strip() + " " + line.split("|")[2].strip(): line
            for line in text.splitlines() if line.startswith("| `toy` |")}
    assert "**changed**" in rows["`toy` accuracy"] and "**changed**" in rows["`toy` ndcg@10"]
    assert (third / "review_plots" / f"head-{git(third, 'rev-parse', '--short=7', 'HEAD').strip()}" / "plots"
            / "toy.png").is_file()


@pytest.mark.slow
def test_outputs_never_pushed_fall_back_to_each_revisions_interval_and_say_so(origin, tmp_path):
    fresh = clone(origin, tmp_path / "fresh", "unpushed")
    text = run(fresh, sys.executable, "-m", "sasnet.review", "origin/main", "HEAD")
    assert "models `toy`: data/predictions/<name>.parquet of `HEAD`" in text
    assert "is in neither the DVC cache nor the default remote" in text
    accuracy = next(line for line in text.splitlines() if line.startswith("| `toy` | accuracy |"))
    assert accuracy.endswith("| **changed** (unpaired) |")  # 30 against 90 wrong of 300: the intervals part


@pytest.mark.slow
def test_metrics_diff_shows_the_headline_and_reaches_any_detailed_file_by_name(origin, tmp_path):
    """As dvc.yaml proposes (docs/review.md): metrics/headline.json is the only declared metrics file; the detailed
    files are plain outputs that `dvc metrics diff --targets` and `dvc metrics show FILE` still read."""
    pull_request = clone(origin, tmp_path / "pull_request", "pr")
    headline_only = json.loads(dvc(pull_request, "metrics", "diff", "origin/main", "HEAD", "--json"))
    assert set(headline_only) == {"metrics/headline.json"}
    assert set(headline_only["metrics/headline.json"]) == {"models.toy.accuracy", "models.toy.macro_f1",
                                                           "rankers.toy.ndcg@10", "rankers.toy.recall@10"}
    detailed = json.loads(dvc(pull_request, "metrics", "diff", "origin/main", "HEAD", "--json",
                              "--targets", "metrics/models/toy.json"))
    assert "test.accuracy_low" in detailed["metrics/models/toy.json"]
    everything = json.loads(dvc(pull_request, "metrics", "diff", "origin/main", "HEAD", "--json",
                                "--targets", "metrics"))
    assert {"metrics/headline.json", "metrics/models/toy.json", "metrics/rankers/toy.json"} <= set(everything)
    shown = json.loads(dvc(pull_request, "metrics", "show", "metrics/rankers/toy.json", "--json"))
    assert "ndcg@10" in json.dumps(shown)


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3_server():
    """A moto S3 server on 127.0.0.1 with a bucket `review`, and the environment that reaches it; skipped without
    dvc-s3 or moto[server], or when the server does not start."""
    pytest.importorskip("dvc_s3", reason="the s3 extra (dvc-s3) is not installed")
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    boto3 = pytest.importorskip("boto3")
    port = free_loopback_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint, **{key.lower(): value for key, value in env.items()
                                                      if key != "AWS_DEFAULT_REGION"},
                     region_name="us-east-1").create_bucket(Bucket="review")
    except Exception as error:  # noqa: BLE001 - any failure to start is a skip, not a failure of the code
        server.stop()
        pytest.skip(f"moto's S3 server did not start on 127.0.0.1: {error}")
    yield endpoint, env
    server.stop()


@pytest.mark.slow
def test_an_s3_remote_on_a_local_server_round_trips(s3_server, tmp_path):
    endpoint, credentials = s3_server
    env = tool_env() | credentials
    first = tmp_path / "first"
    first.mkdir()
    for name, text in TOY_FILES.items():
        (first / name).write_text(text)
    git(first, "init", "-q", "-b", "main")
    dvc(first, "init")
    run(first, sys.executable, "-m", "sasnet.remote", "s3", "s3://review/toy", "--endpoint-url", endpoint, env=env)
    config = (first / ".dvc" / "config").read_text()
    assert "s3://review/toy" in config and endpoint in config and "testing" not in config  # no secret committed
    dvc(first, "repro", env=env)
    git(first, "add", "-A")
    git(first, "commit", "-q", "-m", "toy pipeline")
    dvc(first, "push", env=env)

    second = clone(first, tmp_path / "second")
    dvc(second, "pull", env=env)
    assert json.loads(dvc(second, "status", "--json", env=env)) == {}
    assert (second / "data" / "predictions" / "toy.parquet").read_bytes() == (
        first / "data" / "predictions" / "toy.parquet").read_bytes()


def workflow_steps() -> dict[str, dict]:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["review"]["steps"]
    return {step["id"]: step for step in steps if "id" in step}


def test_the_workflow_reviews_against_the_base_and_comments_the_report():
    steps = workflow_steps()
    assert set(REVIEW_STEPS) | {"comment"} <= set(steps), f"{WORKFLOW} lacks a step id of {REVIEW_STEPS}"
    review = steps["review"]["run"]
    assert "python -m sasnet.review origin/main" in review
    output = review.split("-o", 1)[1].split()[0] if " -o " in review else "review.md"
    assert steps["comment"]["run"].split()[:3] == ["cml", "comment", "create"]
    assert output in steps["comment"]["run"].split()


@pytest.mark.slow
def test_the_workflow_steps_run_in_a_pull_request_clone(origin, tmp_path):
    """A pull request that changed a param without reproducing: the steps pull, rerun the one stage it changed and
    review it against origin/main, as CI would (the CML comment left out)."""
    git(origin, "checkout", "-q", "-b", "unreproduced", "main")
    set_params(origin, wrong=31)
    git(origin, "commit", "-q", "-am", "one more wrong prediction")
    git(origin, "checkout", "-q", "main")
    pull_request = clone(origin, tmp_path / "pull_request", "unreproduced")
    outputs = {}
    for step in REVIEW_STEPS:
        outputs[step] = run(pull_request, "bash", "-e", "-c", workflow_steps()[step]["run"])
    assert "Running stage 'train@toy'" in outputs["repro"] and "Running stage 'split'" not in outputs["repro"]
    text = (pull_request / "review.md").read_text()
    assert "| `models.toy.wrong` | `30` | `31` |" in text
    accuracy = next(line for line in text.splitlines() if line.startswith("| `toy` | accuracy |"))
    assert accuracy.endswith("| within noise |")  # one review more wrong: noise
