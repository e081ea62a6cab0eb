"""Where the repository and the stack's local state are."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout: found from this file or the working directory (`deploy/topics.toml` marks it)."""
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "deploy" / "topics.toml").is_file():
                return candidate
    raise RuntimeError("cannot find the OpenRCM checkout (deploy/topics.toml)")


def local_dir() -> Path:
    """Git-ignored state: Kafka's classpath cache, data folders, logs, stack.json."""
    path = Path(os.environ.get("OPENRCM_LOCAL_DIR", repo_root() / ".local"))
    path.mkdir(parents=True, exist_ok=True)
    return path
