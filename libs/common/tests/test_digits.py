"""ASCII digits only: what every check of untrusted text uses (``str.isdigit`` alone accepts '²',
'٣', '３', on which ``int()`` raises or reads a number nobody typed)."""

from __future__ import annotations

import re
import string
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from hibiki.common.digits import ascii_digits

ROOT = Path(__file__).resolve().parents[3]
# str.isdigit() left on purpose: search folding of what a person typed (NFKC first), bytes headers
ALLOWED = {
    "services/directory/src/hibiki/directory/phonebook.py",      # NFKC-folded search text, never int()
    "services/acd/src/hibiki/acd/desktop/content_api.py",         # folds a number for the phonebook lookup
    "libs/common/src/hibiki/common/http.py",                      # bytes.isdigit(): ASCII only
    "libs/common/src/hibiki/common/digits.py",
}


@given(st.text(max_size=64))
def test_ascii_digits_is_exactly_0_to_9(text: str) -> None:
    assert ascii_digits(text) == (text != "" and all(c in string.digits for c in text))
    if ascii_digits(text):
        assert int(text) >= 0


def test_other_scripts_digits_are_refused() -> None:
    for text in ("²", "٣", "３", "1²", "", " 1", "+1", "-1", "1.0"):
        assert not ascii_digits(text), text
    assert ascii_digits("0120")


def test_no_source_checks_digits_with_isdigit_alone() -> None:
    offenders = []
    for folder in ("services", "libs", "stack", "tools"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if "/tests/" in rel or rel in ALLOWED or ".venv" in rel:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\.isdigit\(\)", line):
                    offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "use hibiki.common.digits.ascii_digits:\n" + "\n".join(offenders)
