"""Publish a directory atomically: readers see the old version or the new one, never half of it.
A leaf: imports nothing of serving (artifacts of every kind use it)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def publish_dir(root: str | Path, name: str, write: Callable[[Path], None]) -> Path:
    """`write(tmp)` fills a temporary directory beside <root>/<name>, which then replaces it by a
    rename; if `write` fails, the temporary directory is removed and the old one is untouched."""
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        write(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a packaged artifact must be readable
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
