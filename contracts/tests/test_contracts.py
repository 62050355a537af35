"""The committed Python contracts match proto/, and the protos follow the house rules."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTOS = sorted((ROOT / "proto").rglob("*.proto"))
COMMITTED = ROOT / "contracts" / "src"


def test_generated_code_is_not_stale(tmp_path: Path) -> None:
    out = tmp_path / "gen"
    subprocess.run([sys.executable, str(ROOT / "tools" / "gen_proto.py"), str(out)], check=True,
                   capture_output=True, timeout=120)
    fresh = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    committed = {p.relative_to(COMMITTED): p.read_bytes() for p in COMMITTED.rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    assert sorted(fresh) == sorted(committed), "run `just proto` and commit the result"
    stale = [str(path) for path in fresh if fresh[path] != committed[path]]
    assert not stale, f"stale generated files (run `just proto`): {stale}"


@pytest.mark.parametrize("proto", PROTOS, ids=lambda p: str(p.relative_to(ROOT / "proto")))
def test_house_rules(proto: Path) -> None:
    text = proto.read_text()
    rel = proto.relative_to(ROOT / "proto")
    assert rel.parts[0] == "hibiki" and rel.parts[2] == "v1"
    assert f"package hibiki.{rel.parts[1]}.v1;" in text
    for enum, body in re.findall(r"enum (\w+) \{(.*?)\}", text, re.S):
        first = re.search(r"(\w+) = (\d+);", body)
        assert first is not None
        prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum).upper()
        assert first.group(1) == f"{prefix}_UNSPECIFIED" and first.group(2) == "0", enum
    for message, body in re.findall(r"message (\w+) \{(.*?)\n\}", text, re.S):
        numbers = [int(n) for n in re.findall(r"= (\d+);", body)]
        assert len(numbers) == len(set(numbers)), f"{message} reuses a field number"


def test_every_service_package_imports() -> None:
    for name in ("directory", "callcontrol", "acd", "recording", "analytics"):
        module = importlib.import_module(f"hibiki.{name}.v1.{name}_pb2_grpc")
        assert any(attr.endswith("ServiceStub") for attr in dir(module))
    events = importlib.import_module("hibiki.events.v1.cdr_pb2")
    record = events.CallDetailRecord()
    record.meta.id = "x"
    assert events.CallDetailRecord.FromString(record.SerializeToString()).meta.id == "x"
