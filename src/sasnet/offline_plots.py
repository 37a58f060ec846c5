"""`dvc plots show` / `dvc plots diff` as an HTML page that renders with no network.

    python -m sasnet.offline_plots show [dvc plots show arguments]
    python -m sasnet.offline_plots diff [dvc plots diff arguments]     # e.g. diff HEAD~1 --open

DVC's page loads Vega, Vega-Lite and vega-embed from a CDN (``dvc_render.VegaRenderer.SCRIPTS``, put where the
page template has ``{scripts}``), so without network it stays blank. This command writes an HTML template that
inlines those three scripts instead (from the pinned ``django-js-lib-vega-embed`` wheel, which ships the release
builds: Vega 5.33.0, Vega-Lite 5.23.0, vega-embed 6.29.0; only its static files are read, Django is not needed)
and has no ``{scripts}`` placeholder, then runs ``dvc plots show|diff --html-template <it>``. The template (about
0.8 MB) is written once into the repository's ``.dvc/tmp/`` (git-ignored by DVC) and rewritten only when it
changes. The page goes where DVC puts it: ``dvc_plots/index.html`` unless ``-o/--out`` says otherwise; image plots
sit beside it in ``static/``, so the folder can be zipped and opened anywhere.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

# The release builds inside the django-js-lib-vega-embed wheel, in load order (vega-lite and vega-embed attach to
# the globals the previous ones define).
JS_PACKAGE = "js_lib_vega_embed"
JS_FILES = ("vega5.js", "vega-lite5.js", "vega-embed6.js")
TEMPLATE_NAME = "offline_plots_template.html"

# dvc_render.html.PAGE_HTML without {scripts} (so the CDN tags are never inserted) and with the scripts inlined.
# {refresh_tag} and {plot_divs} are the placeholders DVC fills; the JS contains neither (checked in the tests).
PAGE_HEAD = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    {refresh_tag}
    <title>DVC Plot</title>
"""
PAGE_TAIL = """    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def _script(name: str, source: str) -> str:
    # "</script" inside the JS would close the element early; "<\/script" means the same in any string or regex.
    source = source.replace("</script", "<\\/script")
    return f"    <!-- {JS_PACKAGE}/{name} -->\n    <script>\n{source}\n    </script>\n"


def template_html() -> str:
    """The page template: DVC's default page with Vega, Vega-Lite and vega-embed inlined."""
    folder = files(JS_PACKAGE).joinpath("static", JS_PACKAGE)
    scripts = "".join(_script(name, folder.joinpath(name).read_text(encoding="utf-8")) for name in JS_FILES)
    return PAGE_HEAD + scripts + PAGE_TAIL


def repo_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) that holds ``.dvc``."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / ".dvc").is_dir():
            return folder
    raise SystemExit(f"not inside a DVC repository: {start}")


def write_template(root: Path | None = None) -> Path:
    """Write the template into ``<repo>/.dvc/tmp/`` (git-ignored) unless it is already there; return its path."""
    path = repo_root(root) / ".dvc" / "tmp" / TEMPLATE_NAME
    html = template_html()
    if not path.is_file() or path.read_text(encoding="utf-8") != html:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("show", "diff"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    from dvc.cli import main as dvc_main

    template = write_template()
    # Ours first, so a --html-template given by the caller still wins (argparse keeps the last one).
    return dvc_main(["plots", argv[0], "--html-template", str(template), *argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main())
