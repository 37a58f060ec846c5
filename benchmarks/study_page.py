"""Each study driver writes its own page, docs/studies/<driver>.md, at the end of a run.

    if __name__ == "__main__":
        from study_page import recording

        with recording(__file__):
            main()

What the driver prints to stdout is still printed, and kept. When the run ends without an exception (argparse's
--help and a failed run write nothing), the page gets a block for this run at the top: the command, the date and git
commit the run started on, the machine (CPU model, cores, the dtype torch's `auto` picks there, the GPU if torch sees
one), then what was printed: markdown tables and headings as they are, every other line in a text block. A block of
the same command from an earlier run is replaced; blocks of other commands stay below, as history.
"""

from __future__ import annotations

import ast
import contextlib
import datetime
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

from sasnet.device import machine

REPO_ROOT = Path(__file__).resolve().parents[1]
STUDIES = REPO_ROOT / "docs" / "studies"
BLOCK = re.compile(r"<!-- run: (?P<command>.*?) -->\n.*?<!-- end run -->\n", re.S)


class _Tee:
    """Writes go to the terminal and into ``kept``; anything else (encoding, isatty, fileno) is the terminal's."""

    def __init__(self, terminal):
        self.terminal, self.kept = terminal, io.StringIO()

    def write(self, text: str) -> int:
        self.kept.write(text)
        return self.terminal.write(text)

    def __getattr__(self, name: str):
        return getattr(self.terminal, name)


@contextlib.contextmanager
def recording(driver_file: str, studies: Path = STUDIES):
    """Keep stdout while the driver runs; on success write its page (see the module docstring)."""
    command = shlex.join(["python", f"benchmarks/{Path(driver_file).name}", *sys.argv[1:]])
    driver = Path(driver_file).resolve()  # before the driver changes folder
    facts = run_facts()  # the commit and date the run starts on
    tee, terminal = _Tee(sys.stdout), sys.stdout
    sys.stdout = tee
    try:
        yield
    finally:
        sys.stdout = terminal
    page = update_page(driver, command, [*facts, "", *to_markdown(tee.kept.getvalue())], studies)
    print(f"study page: {page}")


def git_commit() -> str:
    """The short commit of HEAD, marked when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        return commit + (" with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def run_facts() -> list[str]:
    return [f"- date: {datetime.date.today().isoformat()}", f"- commit: {git_commit()}", f"- machine: {machine()}"]


def to_markdown(printed: str) -> list[str]:
    """Markdown tables and headings as printed (headings one level down), other lines fenced as text."""
    lines, text = [], []

    def flush_text() -> None:
        while text and not text[-1].strip():
            text.pop()
        if text:
            lines.extend(["```text", *text, "```", ""])
        text.clear()

    for line in printed.splitlines():
        if line.startswith("|") or line.startswith("#"):
            flush_text()
            if line.startswith("#"):
                lines.extend(["", "#" + line, ""])
            else:
                lines.append(line)
        elif line.strip() or text:
            if lines and lines[-1].startswith("|") and not text:
                lines.append("")
            text.append(line)
    flush_text()
    return lines


def header(driver: Path) -> str:
    """The page's title and what it is, from the driver's docstring."""
    docstring = ast.get_docstring(ast.parse(driver.read_text())) or ""
    return "\n".join([
        f"# {driver.stem}",
        "",
        docstring.split("\n\n")[0].replace("\n", " "),
        "",
        f"Written by [`benchmarks/{driver.name}`](../../benchmarks/{driver.name}) through "
        "[`benchmarks/study_page.py`](../../benchmarks/study_page.py): each run puts its block at the top and "
        "replaces the block of the same command; blocks of other commands stay below as history. What the driver "
        "measures: [docs/benchmarks.md](../benchmarks.md).",
        "",
    ])


def update_page(driver: Path, command: str, body: list[str], studies: Path = STUDIES) -> Path:
    """Write ``driver``'s page with this run's block first, dropping an earlier block of the same command."""
    page = studies / f"{driver.stem}.md"
    old = page.read_text() if page.is_file() else ""
    kept = [match.group(0) for match in BLOCK.finditer(old) if match.group("command") != command]
    block = "\n".join([f"<!-- run: {command} -->", f"## `{command}`", "", *body]).rstrip() + "\n<!-- end run -->\n"
    studies.mkdir(parents=True, exist_ok=True)
    page.write_text(re.sub(r"\n{3,}", "\n\n", "\n".join([header(driver), block, *kept])).rstrip() + "\n")
    return page
