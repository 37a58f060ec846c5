"""Set up the DVC remote that `dvc push` and `dvc pull` share, so that a review reads the pipeline's outputs instead
of recomputing them.

    python -m sasnet.remote local /path/to/storage [--name storage] [--local]
    python -m sasnet.remote s3 s3://bucket/prefix [--endpoint-url URL] [--region REGION] [--name storage] [--local]

Each is the default remote (``dvc remote add --default --force``), written to .dvc/config to be committed (clones
get it), or with ``--local`` to .dvc/config.local (this checkout only). ``local`` creates the folder (a shared disk,
a mounted volume); ``s3`` needs the ``s3`` extra (dvc-s3) and takes the credentials where boto does (the
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment variables, ~/.aws), never in the config; ``--endpoint-url``
points it at an S3-compatible server (MinIO, Ceph, a cloud's S3 API). The command prints the DVC commands it runs:
they are all it does.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_NAME = "storage"


def dvc_commands(kind: str, url: str, name: str = DEFAULT_NAME, local: bool = False,
                 endpoint_url: str | None = None, region: str | None = None) -> list[list[str]]:
    """The `dvc` commands (arguments after ``dvc``) that make ``url`` the default remote ``name``."""
    level = ["--local"] if local else []
    commands = [["remote", "add", *level, "--default", "--force", name, url]]
    if kind == "s3":
        if not url.startswith("s3://"):
            raise ValueError(f"an S3 remote's URL starts with s3://, not {url!r}")
        for option, value in (("endpointurl", endpoint_url), ("region", region)):
            if value:
                commands.append(["remote", "modify", *level, name, option, value])
    elif endpoint_url or region:
        raise ValueError("--endpoint-url and --region are for an s3 remote")
    return commands


def run_dvc(arguments: Sequence[str], repo: Path) -> None:
    """Run one `dvc` command in ``repo`` (this Python's DVC); exit with its code when it fails."""
    print("dvc " + shlex.join(arguments), flush=True)
    code = subprocess.run([sys.executable, "-m", "dvc", *arguments], cwd=repo).returncode
    if code:
        sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sasnet.remote", description=__doc__.splitlines()[0])
    kinds = parser.add_subparsers(dest="kind", required=True)
    local = kinds.add_parser("local", help="a folder: a shared disk or a mounted volume")
    local.add_argument("path", type=Path)
    s3 = kinds.add_parser("s3", help="an S3 bucket, or an S3-compatible server with --endpoint-url")
    s3.add_argument("url", help="s3://bucket/prefix")
    s3.add_argument("--endpoint-url", help="an S3-compatible server's URL (default: AWS)")
    s3.add_argument("--region")
    for sub in (local, s3):
        sub.add_argument("--name", default=DEFAULT_NAME, help=f"the remote's name (default: {DEFAULT_NAME})")
        sub.add_argument("--local", action="store_true", help="write .dvc/config.local, not .dvc/config")
        sub.add_argument("--repo", type=Path, default=Path("."), help="the repository (default: .)")
    args = parser.parse_args(argv)
    if args.kind == "local":
        folder = args.path.expanduser().absolute()
        folder.mkdir(parents=True, exist_ok=True)
        commands = dvc_commands("local", str(folder), args.name, args.local)
    else:
        try:
            commands = dvc_commands("s3", args.url, args.name, args.local, args.endpoint_url, args.region)
        except ValueError as error:
            parser.error(str(error))
    for command in commands:
        run_dvc(command, args.repo)


if __name__ == "__main__":
    main()
