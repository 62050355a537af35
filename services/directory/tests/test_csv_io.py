"""CSV files as Excel in Japan writes them (ADM-03), without a server: encodings, headers,
per-row errors with the file's own line numbers, and export -> import round trips."""

from __future__ import annotations

import codecs
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from hibiki.directory import csvio, schemas
from hibiki.directory.csvio import SPECS, CsvError

USERS = SPECS["users"]
JAPANESE = "佐藤太郎,\"ｻﾄｳ\"\nさとう　たろう"
QUOTED = JAPANESE.replace('"', '""')   # as a CSV writer (Excel) doubles quotes


def parse(text: str, spec: csvio.Spec = USERS, lookups: csvio.Lookups | None = None) -> tuple[list[csvio.Item], list[csvio.RowError]]:
    return csvio.validate(spec, csvio.read(spec, text), lookups or {})


@pytest.mark.parametrize("data", [
    codecs.BOM_UTF8 + "username,display_name\r\nsato,佐藤 太郎\r\n".encode(),
    "username,display_name\nsato,佐藤 太郎\n".encode(),
    "username,display_name\r\nsato,佐藤 太郎\r\n".encode("cp932"),
    "username,display_name\r\nsato,佐藤 太郎\r\n".encode("shift_jis"),
])
def test_utf8_with_or_without_bom_and_shift_jis_decode(data: bytes) -> None:
    text = csvio.decode(data)
    assert not text.startswith("\ufeff")
    items, errors = parse(text)
    assert errors == [] and items[0].values["display_name"] == "佐藤 太郎"


def test_cp932_only_characters_and_the_wave_dash() -> None:
    # NEC special characters (①, ㈱) exist only in cp932; Excel writes them in "Shift_JIS" files.
    assert csvio.decode("①㈱～".encode("cp932")) == "①㈱～"
    body, charset = csvio.encode("username,display_name\r\nu1,9:00〜17:00 ①\r\n", "shift_jis")
    assert charset == "shift_jis" and body.decode("cp932").endswith("9:00～17:00 ①\r\n")


def test_garbage_says_where() -> None:
    with pytest.raises(CsvError) as caught:
        csvio.decode(b"username\nok\n\xff\xfe\xfa broken")
    assert caught.value.error_id == "invalid-encoding" and "line 3" in caught.value.message
    assert "0xff" in caught.value.message
    with pytest.raises(CsvError) as bom:
        csvio.decode(codecs.BOM_UTF8 + "username\n".encode() + "佐藤".encode("cp932"))
    assert "BOM" in bom.value.message and "line 2" in bom.value.message
    with pytest.raises(CsvError, match="UTF-16"):
        csvio.decode("username\n".encode("utf-16"))


def test_export_encodings() -> None:
    body, charset = csvio.encode("a\r\n佐藤\r\n")
    assert charset == "utf-8" and body.startswith(codecs.BOM_UTF8)
    assert csvio.encode("a\r\n", "Shift_JIS")[1] == csvio.encode("a\r\n", "cp932")[1] == "shift_jis"
    with pytest.raises(CsvError) as caught:
        csvio.encode("a\r\nok\r\n𠮷野家\r\n", "shift_jis")
    assert caught.value.error_id == "unencodable" and "line 3" in caught.value.message
    with pytest.raises(CsvError, match="use utf-8 or shift_jis"):
        csvio.encode("a", "latin-1")


@pytest.mark.parametrize("header,words", [
    ("username,colour", ["unknown columns: 'colour'"]),
    ("display_name", ["missing columns: 'username'"]),
    ("username,username", ["repeated columns: 'username'"]),
    ("", ["name the columns", "missing columns"]),
])
def test_header_problems_are_one_clear_error(header: str, words: list[str]) -> None:
    with pytest.raises(CsvError) as caught:
        csvio.read(USERS, header + "\r\nx\r\n")
    assert caught.value.error_id == "invalid-header"
    assert all(w in caught.value.message for w in words) and "username" in caught.value.message


def test_header_names_are_trimmed_and_case_blind() -> None:
    assert csvio.read(USERS, " UserName , Display_Name\nsato,x\n")[0].cells == {"username": "sato", "display_name": "x"}


def test_every_bad_row_with_its_line_even_after_multiline_cells() -> None:
    text = ("username,display_name,extension,voicemail_enabled,outbound_classes\r\n"   # line 1
            f"u1,\"{QUOTED}\",2001,yes,domestic;mobile\r\n"                            # lines 2-3
            "u2,ok,0123,no,\r\n"                                                       # 4: extension
            "\r\n"                                                                     # 5: blank, skipped
            ",,,,\r\n"                                                                 # 6: Excel's empty row
            "U 3,\"multi\nline\nname\",2003,maybe,\r\n"                                # 7-9: username, boolean
            "u4,,2004,1,domestic;moon\r\n"                                             # 10: class
            "u5,,2005,0,none,extra\r\n"                                                # 11: too many cells
            "u6\r\n")                                                                  # 12: fine (short row)
    items, errors = parse(text)
    assert [i.line for i in items] == [2, 12]
    assert items[0].values["display_name"] == JAPANESE and items[0].values["outbound_classes"] == ["domestic", "mobile"]
    assert [(e.line, e.field, e.error_id) for e in errors] == [
        (4, "extension", "invalid-extension"),
        (7, "username", "invalid-username"), (7, "voicemail_enabled", "invalid-voicemail_enabled"),
        (10, "outbound_classes", "invalid-outbound_classes"),
        (11, None, "invalid-row"),
    ]


def test_empty_cells_are_not_given_and_none_is_the_empty_list() -> None:
    items, _ = parse("username,outbound_classes,voicemail_enabled\nu1,,\nu2,none,false\n")
    assert items[0].values["outbound_classes"] == list(schemas.DEFAULT_CLASSES) and items[0].values["voicemail_enabled"]
    assert items[1].values["outbound_classes"] == [] and not items[1].values["voicemail_enabled"]


def test_unterminated_quote_is_a_file_error() -> None:
    with pytest.raises(CsvError) as caught:
        csvio.read(USERS, 'username,display_name\nu1,ok\nu2,"open\n')
    assert caught.value.error_id == "invalid-csv" and "line 3" in caught.value.message


def test_references_by_name_become_ids() -> None:
    lookups = {"user": {"sato": "id-sato"}, "schedule": {"平日": "id-weekday"}}
    items, errors = parse("user,sip_username,password\nsato,d1,twelve chars!\nsuzuki,d2,twelve chars!\n",
                          SPECS["devices"], lookups)
    assert items[0].values["user_id"] == "id-sato"
    assert [(e.line, e.field, e.error_id) for e in errors] == [(3, "user", "invalid-user")]
    items, errors = parse("number,schedule,target_kind,target,closed_kind,closed_target\n"
                          "0263-52-1111,平日,user,sato,announcement,hibiki/closed.wav\n"
                          "0263-52-2222,休日,voicemail,nobody,,\n", SPECS["dids"], lookups)
    assert {k: items[0].values[k] for k in ("schedule_id", "target", "closed_target")} == {
        "schedule_id": "id-weekday", "target": "id-sato", "closed_target": "hibiki/closed.wav"}
    assert [(e.line, e.field) for e in errors] == [(3, "schedule"), (3, "target")]


def test_exports_carry_no_secrets_and_name_references() -> None:
    user: dict[str, Any] = {"id": "id-sato", "username": "sato", "voicemail_pin": "1234", "outbound_classes": [], "extension": None,
            "voicemail_enabled": False, "display_name": "佐藤"}
    text = csvio.export(USERS, [user], {})
    assert "1234" not in text and "voicemail_pin" not in text and "id-sato" not in text
    assert text.splitlines()[1] == "sato,佐藤,,,,,,false,none,,,,,,,,"
    device = {"user_id": "id-sato", "kind": "softphone", "sip_username": "d1", "a1_hash": "f" * 32, "enabled": True}
    text = csvio.export(SPECS["devices"], [device], {"user": {"id-sato": "sato"}})
    assert text == "user,kind,sip_username,label,enabled,phone,line_key\r\nsato,softphone,d1,,true,,\r\n"


@pytest.mark.parametrize("name,out,left_out", [
    ("users", schemas.UserOut, set()), ("devices", schemas.DeviceOut, set()),
    ("dids", schemas.DidOut, {"branches"}),   # schedule branches are JSON: the admin API sets them
])
def test_exports_cover_every_field_the_api_shows(name: str, out: type[BaseModel], left_out: set[str]) -> None:
    """A field added to the API is added here too (or left out on purpose), or exports silently lose it."""
    spec = SPECS[name]
    assert {spec.field_of(c) for c in spec.columns} == set(out.model_fields) - {"id"} - left_out


# --- round trip -----------------------------------------------------------------------------
SPECIAL = ",\"\n\r"
UNICODE = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), include_characters=SPECIAL)
                  | st.sampled_from("佐藤鈴木髙橋齋藤渡邊𠮷さとうサトウｻﾄｳー〜・、。　" + SPECIAL), max_size=30)
# What Shift_JIS (cp932) can hold: ASCII, kana (half-width too), kanji incl. NEC/IBM extensions, the wave dash
JIS = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e, include_characters=SPECIAL)
              | st.sampled_from("佐藤鈴木髙橋齋藤渡邊さとうサトウｻﾄｳー〜～・、。　①㈱"), max_size=30)


def users(text: st.SearchStrategy[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    user: st.SearchStrategy[dict[str, Any]] = st.builds(
        dict, username=st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,20}\Z"), display_name=text, display_name_kana=text,
        email=text, extension=st.none() | st.from_regex(r"\A[2-9][0-9]{1,7}\Z"), direct_number=text,
        caller_id_policy=st.sampled_from(["representative", "direct"]),
        outbound_classes=st.lists(st.sampled_from(["domestic", "mobile", "free", "international"]), max_size=4),
        voicemail_enabled=st.booleans(), forward_busy=st.from_regex(r"\A(\+?[0-9]{2,20})?\Z"),
        forward_no_answer_seconds=st.integers(5, 120))
    return st.lists(user, max_size=8, unique_by=lambda u: u["username"])


def round_trip(users: list[dict[str, Any]], encoding: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stored = [schemas.UserIn.model_validate(u).model_dump() for u in users]   # as the API would store them
    text = csvio.export(USERS, [{**u, "id": f"id{n}"} for n, u in enumerate(stored)], {})
    body, _ = csvio.encode(text, encoding)
    items, errors = parse(csvio.decode(body, encoding if encoding != "utf-8" else None))
    assert errors == []
    return stored, [i.values for i in items]


@settings(max_examples=150, deadline=None)
@given(users=users(UNICODE))
def test_export_then_import_recreates_the_same_users(users: list[dict[str, Any]]) -> None:
    stored, back = round_trip(users, "utf-8")
    assert back == stored


@settings(max_examples=150, deadline=None)
@given(users=users(JIS))
def test_the_same_through_shift_jis(users: list[dict[str, Any]]) -> None:
    stored, back = round_trip(users, "shift_jis")
    # Shift_JIS has one tilde: the wave dash comes back as the full-width tilde Excel shows for it
    assert back == [{k: v.translate(csvio.CP932_SPELLING) if isinstance(v, str) else v for k, v in u.items()}
                    for u in stored]


def test_a_short_shift_jis_file_that_is_also_utf8_needs_the_encoding_named() -> None:
    body = "username,direct_number\r\nx,邊～\r\n".encode("cp932")
    assert "邊" not in csvio.decode(body)                       # guessed as UTF-8: valid, but wrong
    assert "邊～" in csvio.decode(body, "shift_jis")             # ?encoding=shift_jis on the import
    with pytest.raises(csvio.CsvError, match="not Shift_JIS"):
        csvio.decode(b"\x81", "cp932")
    with pytest.raises(csvio.CsvError, match="say utf-8 or shift_jis"):
        csvio.decode(b"a", "latin-1")
