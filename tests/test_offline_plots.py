"""`python -m sasnet.offline_plots show|diff`: DVC's plots page with Vega inlined, drawn by a real browser offline.

A tiny DVC repository (one plots CSV declared in dvc.yaml, committed, then changed) gets `plots show` and
`plots diff`; headless Chromium, with every host name unresolvable, screenshots each page and the test counts the
coloured pixels of the drawn lines. Skipped where Chromium is not installed (.ci/run installs Debian's chromium).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sasnet import offline_plots

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)

DVC_YAML = """\
plots:
  - curve.csv:
      x: epoch
      y: f1
      title: valid macro-F1
"""
REMOTE_SRC = re.compile(r"""<script[^>]*\bsrc\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false", *args],
        cwd=repo, check=True, capture_output=True,
    )


def _curve(rows: list[tuple[int, float]]) -> str:
    return "epoch,f1\n" + "".join(f"{epoch},{f1}\n" for epoch, f1 in rows)


@pytest.fixture
def plots_repo(tmp_path, monkeypatch):
    """A git + DVC repository whose curve.csv differs from its commit."""
    from dvc.repo import Repo

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    Repo.init(str(repo)).close()
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "curve.csv").write_text(_curve([(1, 0.40), (2, 0.55), (3, 0.61), (4, 0.66), (5, 0.68)]))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "curve")
    (repo / "curve.csv").write_text(_curve([(1, 0.30), (2, 0.62), (3, 0.70), (4, 0.74), (5, 0.75)]))
    monkeypatch.chdir(repo)
    return repo


def _screenshot(html: Path, png: Path, profile: Path) -> None:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any host the page asked for would fail to resolve
        f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1200,1600",
        "--virtual-time-budget=5000",  # let vega-embed's asynchronous render finish before the shot
        html.resolve().as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    assert png.is_file(), f"chromium wrote no screenshot for {html}"


def _pixels_of(png: Path, colour: str) -> int:
    """Pixels within 10% of ``colour`` ("#rrggbb"): DVC's line colours, absent from a blank or text-only page."""
    import matplotlib.image
    import numpy as np

    rgb = matplotlib.image.imread(png)[..., :3]
    target = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(rgb - target).max(axis=-1) < 0.1).sum())


def test_template_inlines_vega_and_keeps_dvc_placeholders():
    html = offline_plots.template_html()
    assert "{plot_divs}" in html and "{refresh_tag}" in html
    assert "{scripts}" not in html  # DVC would put its CDN <script src> tags there
    assert html.count("{plot_divs}") == 1 and html.count("{refresh_tag}") == 1
    assert html.count("<script>") == 3 and not REMOTE_SRC.search(html)
    for global_name in ("vega", "vegaLite", "vegaEmbed"):
        assert f".{global_name}=" in html


def test_dvc_plots_folder_is_git_ignored():
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "-q", "dvc_plots/index.html"], cwd=REPO_ROOT)
    assert ignored.returncode == 0, "dvc_plots/ (written by dvc plots show/diff) is not in .gitignore"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
@pytest.mark.parametrize("command", [["show"], ["diff", "HEAD"]], ids=["show", "diff"])
def test_page_draws_offline(plots_repo, tmp_path, command):
    out = tmp_path / "out"
    assert offline_plots.main([*command, "-o", str(out)]) == 0
    page = out / "index.html"
    html = page.read_text(encoding="utf-8")
    assert not REMOTE_SRC.search(html), "the page still loads a script from the web"
    assert "vegaEmbed('#" in html  # DVC filled {plot_divs} with a Vega plot
    if command[0] == "diff":
        assert '"rev": "HEAD"' in html and '"rev": "workspace"' in html
    template = plots_repo / ".dvc" / "tmp" / offline_plots.TEMPLATE_NAME
    assert template.is_file()

    png = tmp_path / "page.png"
    _screenshot(page, png, tmp_path / "profile")
    # The lines in DVC's first two colours (dvc_render.vega.OPTIONAL_ANCHOR_RANGES["color"]): the workspace's in
    # purple, and in diff HEAD's in teal. A 5-point line is ~600 such pixels; DVC's own page offline has none.
    colours = ["#945dd6", "#13adc7"] if command[0] == "diff" else ["#945dd6"]
    for colour in colours:
        assert _pixels_of(png, colour) > 200, f"no line in {colour}: the plot did not draw (see {png})"
