"""Shared fixtures: the repository root and the `emprox` binary the CLI comparisons run."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `emprox` binary: $EMPROX_BIN, or target/release/emprox (built if absent)."""
    path = Path(os.environ.get("EMPROX_BIN", ROOT / "target" / "release" / "emprox"))
    if not path.exists():
        subprocess.run(
            ["cargo", "build", "--release", "--locked", "-p", "emprox-engine"],
            cwd=ROOT,
            check=True,
        )
    return path
