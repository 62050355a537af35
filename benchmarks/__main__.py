"""``python -m benchmarks <target>``: run one benchmark module ``benchmarks/<target>.py``."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    """Target names: the modules, ``_`` spelt ``-`` (``acd_service.py`` is ``acd-service``)."""
    return sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                  if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    target = argv[0] if argv else "list"
    names = available()
    if target == "list":
        print("benchmarks:", ", ".join(names) if names else "none yet")
        return 0
    if target not in names:
        print(f"bench: no benchmark named {target!r}; available: {', '.join(names) or 'none yet'}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"benchmarks.{target.replace('-', '_')}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
