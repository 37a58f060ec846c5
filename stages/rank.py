"""DVC stage `rank@<ranker>`: fit one ranker of params.yaml's `rankers` map on the leave-last-out train part (valid
for early stopping), then rank the whole catalogue for every valid and test user (``sasnet.tasks.fit_and_score``).
A review-embedding ranker (input normalized/<run>) also reads the normalised embedding of each interaction's review.

Writes data/rankers/<ranker>/ (model.safetensors, model.json), data/rankings/<ranker>.parquet (each test user's
top-k and the target's rank), metrics/rankers/<ranker>.json (valid and test top-k metrics with intervals, coverage,
popularity bias, fit facts, wall time) and plots/rankers/<ranker>.csv (valid NDCG@k by epoch).
"""

from sasnet.params import Params
from sasnet.stage import run_stage
from sasnet.tasks import fit_and_score
from sasnet.tasks.rank import RANK


def run(params: Params, name: str) -> None:
    fit_and_score(RANK, params, name)


if __name__ == "__main__":
    run_stage(run)
