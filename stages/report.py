"""DVC stage `report`: results.md, the pairwise McNemar tests and the model comparison plots, from every model, and
the ranking table and plot from every ranker."""

from sasnet.params import Params
from sasnet.report.build import build_report
from sasnet.stage import run_stage


def run(params: Params) -> None:
    build_report(params)


if __name__ == "__main__":
    run_stage(run)
