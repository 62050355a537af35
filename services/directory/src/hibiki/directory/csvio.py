"""CSV import and export of configuration (ADM-03): bytes in, rows and per-line errors out.

Pure (no I/O, no database): the encodings Excel in Japan writes (UTF-8 with BOM, or
Shift_JIS, which in practice is Microsoft's cp932), the column conventions and the line
numbers of errors do not depend on what carries the file, and are tested without a server.

A resource is one :class:`Spec` in ``SPECS``: its pydantic "In" model, the columns it
exports, the secret columns it only imports, and the columns that *name* another row (a
username, a schedule name) where the API takes its id. Conventions: header names are the
API field names; an empty cell means "not given" (the model's default); booleans are
true/false, 1/0 or yes/no; lists are ``;``-separated and ``none`` is the empty list.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from hibiki.directory import schemas
from hibiki.directory.errors import ConfigStoreError

TARGET_LOOKUPS = {"user": "user", "voicemail": "user", "ring_group": "ring_group"}   # target kind -> what it names
TRUE, FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})
EMPTY_LIST = "none"
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932",
             "cp932": "cp932", "windows-31j": "cp932"}
# JIS X 0208 code points that cp932 spells differently (the "wave dash problem"): map before encoding.
CP932_SPELLING = str.maketrans({"\u301c": "\uff5e", "\u2016": "\u2225", "\u2212": "\uff0d", "\u00a2": "\uffe0",
                           "\u00a3": "\uffe1", "\u00ac": "\uffe2", "\u2014": "\u2015"})
Lookups = Mapping[str, Mapping[str, str]]   # lookup kind ("user", "schedule", "ring_group") -> key -> value


class CsvError(ConfigStoreError):
    """The file as a whole cannot be used (bad encoding, header or CSV syntax): nothing is checked further."""

    def __init__(self, error_id: str, message: str, status: int = 400) -> None:
        super().__init__(error_id, message)
        self.status = status


@dataclass(frozen=True)
class RowError:
    """One problem of one row; ``line`` is the file's 1-based line where the row starts (header = 1)."""

    line: int
    field: str | None
    error_id: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Record:
    """A data row as read: its first line and its non-empty cells by column (or why it has none)."""

    line: int
    cells: dict[str, str]
    problem: str | None = None


@dataclass(frozen=True)
class Item:
    """A row that passed the model: the values the repository takes (API field names)."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class Ref:
    """A column naming another row: always a ``lookup`` kind, or per the kind in ``kind_column`` (targets)."""

    column: str
    field: str
    lookup: str = ""
    kind_column: str | None = None

    def lookup_for(self, cells: Mapping[str, Any]) -> str | None:
        if self.lookup:
            return self.lookup
        return TARGET_LOOKUPS.get(str(cells.get(self.kind_column or "") or "").strip())


@dataclass(frozen=True)
class Spec:
    name: str
    model: type[BaseModel]
    columns: tuple[str, ...]                 # exported, in this order
    secrets: tuple[str, ...] = ()            # accepted on import, never exported
    required: tuple[str, ...] = ()
    booleans: frozenset[str] = frozenset()
    lists: frozenset[str] = frozenset()
    refs: tuple[Ref, ...] = field(default=())

    @property
    def importable(self) -> tuple[str, ...]:
        return self.columns + self.secrets

    def field_of(self, column: str) -> str:
        return next((r.field for r in self.refs if r.column == column), column)

    def column_of(self, name: str | None) -> str | None:
        return next((r.column for r in self.refs if r.field == name), name)


SPECS: dict[str, Spec] = {s.name: s for s in (
    Spec("users", schemas.UserIn,
         ("username", "display_name", "display_name_kana", "email", "extension", "direct_number",
          "caller_id_policy", "voicemail_enabled", "outbound_classes", "forward_always", "forward_busy",
          "forward_no_answer", "forward_no_answer_seconds", "forward_unregistered", "pickup_group", "park_group",
          "service_class"),
         secrets=("voicemail_pin",), required=("username",),
         booleans=frozenset({"voicemail_enabled"}), lists=frozenset({"outbound_classes"}),
         refs=(Ref("service_class", "service_class_id", "service_class"),)),
    Spec("devices", schemas.DeviceIn, ("user", "kind", "sip_username", "label", "enabled", "phone", "line_key"),
         secrets=("password",), required=("user", "sip_username", "password"), booleans=frozenset({"enabled"}),
         refs=(Ref("user", "user_id", "user"),)),
    Spec("dids", schemas.DidIn,
         ("number", "label", "schedule", "target_kind", "target", "closed_kind", "closed_target"),
         required=("number", "target_kind", "target"),
         refs=(Ref("schedule", "schedule_id", "schedule"), Ref("target", "target", kind_column="target_kind"),
               Ref("closed_target", "closed_target", kind_column="closed_kind"))),
    Spec("phonebook", schemas.ContactIn, ("name", "name_kana", "organization", "numbers", "tags", "note"),
         required=("name", "numbers"), lists=frozenset({"numbers", "tags"})),
)}


# --- reading -----------------------------------------------------------------------------
SJIS_NAMES = frozenset({"shift_jis", "shift-jis", "sjis", "cp932", "windows-31j", "ms932"})


def decode(data: bytes, encoding: str | None = None) -> str:
    """The text of an upload: UTF-8 (with or without BOM), else Shift_JIS (cp932).

    ``encoding`` (``utf-8`` or ``shift_jis``, e.g. from ``?encoding=``) settles it when the
    caller knows: a short Shift_JIS file can also be valid UTF-8 (``邊～`` is ``粁``` in UTF-8)."""
    if encoding is not None and encoding.strip().lower() in SJIS_NAMES:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError as exc:
            raise CsvError("invalid-encoding", f"the file is not Shift_JIS: {_where(data, exc.start)}") from None
    if encoding is not None and encoding.strip().lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise CsvError("invalid-encoding", f"encoding {encoding[:20]!r}: say utf-8 or shift_jis")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise CsvError("invalid-encoding", "the file is UTF-16 (Excel's 'Unicode text'); save it as 'CSV UTF-8'")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CsvError("invalid-encoding", f"the file starts with a UTF-8 BOM but is not UTF-8: "
                                               f"{_where(data, exc.start + 3)}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8:
        try:
            return data.decode("cp932")
        except UnicodeDecodeError as sjis:
            raise CsvError("invalid-encoding", f"the file is neither UTF-8 ({_where(data, utf8.start)}) nor "
                                               f"Shift_JIS ({_where(data, sjis.start)}); save it as 'CSV UTF-8'") from None


def _where(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line}, byte 0x{data[offset]:02x} at offset {offset}"


def read(spec: Spec, text: str) -> list[Record]:
    """Rows of the file, checked against the header; blank rows (Excel's trailing ",,,") are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    end = 0
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        _check_header(spec, header)
        records: list[Record] = []
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            extra = [c for c in cells[len(header):] if c.strip()]
            if extra:
                records.append(Record(start, {}, f"{len(cells)} cells, but the header names {len(header)} columns"))
                continue
            records.append(Record(start, {col: cell for col, cell in zip(header, cells) if cell.strip()}))
    except csv.Error as exc:
        raise CsvError("invalid-csv", f"line {end + 1}: {exc}") from None
    return records


def _check_header(spec: Spec, header: Sequence[str]) -> None:
    problems = []
    if not any(header):
        problems.append("the first line must name the columns")
    unknown = [c for c in header if c not in spec.importable]
    missing = [c for c in spec.required if c not in header]
    repeated = sorted({c for c in header if header.count(c) > 1})
    for label, names in (("unknown columns", unknown), ("missing columns", missing), ("repeated columns", repeated)):
        if names:
            problems.append(f"{label}: {', '.join(repr(n) for n in names)}")
    if problems:
        raise CsvError("invalid-header", "; ".join(problems) + f" (columns of {spec.name}: {', '.join(spec.importable)}"
                                                               f"; required: {', '.join(spec.required)})")


def validate(spec: Spec, records: Sequence[Record], lookups: Lookups) -> tuple[list[Item], list[RowError]]:
    """Rows that pass the model, and every problem of the others. ``lookups``: kind -> name -> id."""
    items: list[Item] = []
    errors: list[RowError] = []
    for record in records:
        if record.problem is not None:
            errors.append(RowError(record.line, None, "invalid-row", record.problem))
            continue
        values, problems = _values(spec, record, lookups)
        try:
            model = spec.model.model_validate(values)
        except ValidationError as exc:
            for e in exc.errors():
                column = spec.column_of(str(e["loc"][0]) if e["loc"] else None)
                problems.append(RowError(record.line, column, f"invalid-{column or 'row'}", f"{column}: {e['msg']}"))
        if problems:
            errors += sorted(problems, key=lambda p: spec.importable.index(p.field) if p.field in spec.importable else 99)
        else:
            items.append(Item(record.line, model.model_dump()))
    return items, errors


def _values(spec: Spec, record: Record, lookups: Lookups) -> tuple[dict[str, Any], list[RowError]]:
    values: dict[str, Any] = {}
    problems: list[RowError] = []
    for column, cell in record.cells.items():
        try:
            values[spec.field_of(column)] = _cell(spec, column, cell)
        except ValueError as exc:
            problems.append(RowError(record.line, column, f"invalid-{column}", f"{column}: {exc}"))
    for ref in spec.refs:
        name, lookup = record.cells.get(ref.column, "").strip(), ref.lookup_for(record.cells)
        if not name or lookup is None:
            continue
        found = lookups.get(lookup, {}).get(name)
        if found is None:
            problems.append(RowError(record.line, ref.column, f"invalid-{ref.column}",
                                     f"{ref.column}: no {lookup.replace('_', ' ')} {name!r} in this tenant"))
        else:
            values[ref.field] = found
    return values, problems


def _cell(spec: Spec, column: str, cell: str) -> Any:
    text = cell.strip()
    if column in spec.booleans:
        if text.lower() in TRUE | FALSE:
            return text.lower() in TRUE
        raise ValueError(f"{text!r} is not true/false, 1/0 or yes/no")
    if column in spec.lists:
        return [] if text.lower() == EMPTY_LIST else [p.strip() for p in text.split(";") if p.strip()]
    return cell


# --- writing -----------------------------------------------------------------------------
def export(spec: Spec, rows: Sequence[Mapping[str, Any]], names: Lookups) -> str:
    """CSV text (CRLF, as Excel writes) of stored rows; ``names``: kind -> id -> name. No secrets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(spec.columns)
    for row in rows:
        writer.writerow([_export_cell(spec, column, row, names) for column in spec.columns])
    return out.getvalue()


def _export_cell(spec: Spec, column: str, row: Mapping[str, Any], names: Lookups) -> str:
    value = row.get(spec.field_of(column))
    ref = next((r for r in spec.refs if r.column == column), None)
    lookup = ref.lookup_for(row) if ref is not None else None
    if lookup is not None and value:
        value = names.get(lookup, {}).get(value, value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value) if value else EMPTY_LIST
    return str(value)


def encode(text: str, encoding: str = "utf-8") -> tuple[bytes, str]:
    """The download and its charset: UTF-8 with BOM (Excel then reads it as UTF-8) or Shift_JIS (cp932)."""
    codec = ENCODINGS.get(encoding.strip().lower())
    if codec is None:
        raise CsvError("invalid-encoding", f"encoding {encoding!r}: use utf-8 or shift_jis")
    if codec == "utf-8":
        return codecs.BOM_UTF8 + text.encode("utf-8"), "utf-8"
    mapped = text.translate(CP932_SPELLING)
    try:
        return mapped.encode("cp932"), "shift_jis"
    except UnicodeEncodeError as exc:
        line = mapped.count("\n", 0, exc.start) + 1
        raise CsvError("unencodable", f"line {line}: {mapped[exc.start]!r} has no Shift_JIS code; "
                                      "download as UTF-8 instead", status=422) from None
