"""Generate the Python contracts from proto/ (``just proto``).

    python tools/gen_proto.py [OUTPUT_DIR]

Writes ``<out>/hibiki/<package>/v1/*_pb2.py``, ``*_pb2_grpc.py`` and ``.pyi`` stubs
(default output: contracts/src). The stale-code test runs this into a temporary
directory and compares with what is committed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
DEFAULT_OUT = ROOT / "contracts" / "src"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def proto_files() -> list[Path]:
    return sorted(PROTO.rglob("*.proto"))


def generate(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.rglob("*"):
        if old.is_file() and old.name.endswith(GENERATED_SUFFIXES):
            old.unlink()
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    plugin_dir = Path(sys.executable).parent
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--plugin=protoc-gen-mypy={shutil.which('protoc-gen-mypy', path=str(plugin_dir)) or 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={shutil.which('protoc-gen-mypy_grpc', path=str(plugin_dir)) or 'protoc-gen-mypy_grpc'}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *[str(p.relative_to(PROTO)) for p in proto_files()],
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    # Message-only files (the events package) get no gRPC module.
    for proto in proto_files():
        if "\nservice " not in proto.read_text():
            stem = out / proto.relative_to(PROTO).with_suffix("")
            for suffix in ("_pb2_grpc.py", "_pb2_grpc.pyi"):
                Path(f"{stem}{suffix}").unlink(missing_ok=True)
    return sorted(p for p in out.rglob("*") if p.is_file() and p.name.endswith(GENERATED_SUFFIXES))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    files = generate(target)
    print(f"generated {len(files)} files under {target}")
