"""Hibiki's sound directory (freeswitch/sounds) holds every file the configuration and the code play.

A fresh install has no FreeSWITCH sound pack: whatever a caller is meant to hear must be one of
the committed files, in every language a tenant can choose. These tests read the places that
name sound files (the services' stock prompts, mod_voicemail's phrase macros, vars.xml, the hold
music stream) and check each against the tree, and check the tree against its catalogue
(``prompts.toml``) and ``MANIFEST.tsv`` so a changed text cannot ship with its old recording.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import re
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hibiki.callcontrol.ivr import engine
from hibiki.directory import sounds
from tools import gen_sounds

ROOT = Path(__file__).resolve().parents[1]
SOUNDS = ROOT / "freeswitch" / "sounds"
CONF = ROOT / "freeswitch" / "conf"
# Every phrase macro mod_voicemail.c (1.10.12) plays (its VM_*_MACRO names), and valet parking's.
VOICEMAIL_MACROS = frozenset({
    "voicemail_invalid_extension", "voicemail_forward_message_enter_extension", "voicemail_ack",
    "voicemail_say_date", "voicemail_play_greeting", "voicemail_say_message_number", "voicemail_say_number",
    "voicemail_say_phone_number", "voicemail_say_name", "voicemail_forward_prepend", "voicemail_record_message",
    "voicemail_choose_greeting", "voicemail_choose_greeting_fail", "voicemail_greeting_selected",
    "voicemail_record_greeting", "voicemail_record_name", "voicemail_listen_file_check",
    "voicemail_record_file_check", "voicemail_record_urgent_check", "voicemail_menu", "voicemail_config_menu",
    "voicemail_enter_id", "voicemail_enter_pass", "voicemail_fail_auth", "voicemail_change_pass_success",
    "voicemail_change_pass_fail", "voicemail_abort", "voicemail_hello", "voicemail_goodbye",
    "voicemail_message_count", "voicemail_disk_quota_exceeded", "valet_announce_ext", "valet_lot_full",
    "valet_lot_empty",
})
# What a capture group of a macro's pattern can hold: every number up to 999, the keys, the words
# mod_voicemail passes (voicemail_ack, the message kinds).
UNIVERSE = frozenset({str(n) for n in range(1000)} | {"#", "*"} | {
    "new", "saved", "urgent-new", "urgent-saved", "deleted", "emailed", "marked-urgent", "too-small"})


def language_dirs() -> dict[str, Path]:
    return {lang: SOUNDS / prefix for lang, prefix in sounds.LANGUAGES.items()}


def test_the_languages_agree_everywhere() -> None:
    """The directory's languages, the generator's trees and the phrase files are the same set."""
    assert sounds.LANGUAGES == gen_sounds.PREFIXES
    assert {p.name for p in (CONF / "lang").iterdir()} == set(sounds.LANGUAGES)
    for lang, prefix in sounds.LANGUAGES.items():
        language = ET.parse(CONF / "lang" / lang / f"{lang}.xml").getroot().find("language")
        assert language is not None and language.get("name") == lang
        assert language.get("sound-prefix") == f"$${{sounds_dir}}/{prefix}"
    vars_xml = (CONF / "vars.xml").read_text(encoding="utf-8")
    assert f'data="default_language={sounds.DEFAULT_LANGUAGE}"' in vars_xml
    assert f'data="sound_prefix=$${{sounds_dir}}/{sounds.LANGUAGES[sounds.DEFAULT_LANGUAGE]}"' in vars_xml


def test_the_tree_is_the_catalogue_and_the_manifest() -> None:
    """Every catalogued file is there, made from its current text (the manifest's source digest)
    and unchanged since (its file digest); nothing else is."""
    catalogue = gen_sounds.catalogue()
    manifest = gen_sounds.read_manifest(SOUNDS)
    on_disk = {str(p.relative_to(SOUNDS)) for p in SOUNDS.rglob("*.wav")}
    assert on_disk == set(catalogue) == set(manifest)
    stale = [name for name, entry in catalogue.items()
             if manifest[name][0] != gen_sounds.source_digest(entry["lang"], entry["text"])]
    assert not stale, f"texts changed since these were made (run python tools/gen_sounds.py): {stale[:5]}"
    changed = [name for name in catalogue
               if manifest[name][1] != hashlib.sha256((SOUNDS / name).read_bytes()).hexdigest()[:16]]
    assert not changed, f"files changed by hand: {changed[:5]}"
    print(f"\nsound directory: {len(on_disk)} files, {sum((SOUNDS / n).stat().st_size for n in on_disk) / 2**20:.1f} MiB")


def test_every_file_is_8khz_mono_16bit_and_not_silent() -> None:
    for name in gen_sounds.catalogue():
        with wave.open(str(SOUNDS / name), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2), name
            frames = wav.readframes(wav.getnframes())
        samples = memoryview(frames).cast("h")
        assert 0.2 <= len(samples) / 8000 <= 40, name
        assert max(abs(s) for s in samples[::8]) > 3000, f"{name} is (nearly) silent"


def _code_sounds() -> set[str]:
    """Relative sound paths in the services' code (string constants ending in .wav)."""
    found = set()
    for source in (ROOT / "services").glob("*/src/**/*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    re.fullmatch(r"[a-z][a-z0-9_/-]*\.wav", node.value):
                found.add(node.value)
    return found


def test_every_prompt_the_code_plays_exists_in_every_language() -> None:
    named = {*sounds.PROMPTS, engine.INVALID_SOUND, engine.FAILURE_SOUND, engine.FALLBACK_SOUND}
    in_code = _code_sounds()
    assert named <= in_code                  # the scan sees the constants it should
    for lang, directory in language_dirs().items():
        missing = sorted(name for name in in_code if not (directory / name).is_file())
        assert not missing, f"{lang}: {missing}"


def _expansions(data: str, groups: dict[str, str]) -> list[str]:
    """``data`` with every ``$N`` replaced by every value its group can take."""
    refs = sorted(set(re.findall(r"\$(\d)", data)))
    choices = [[value for value in UNIVERSE if re.fullmatch(groups[ref], value)] for ref in refs]
    results = []
    for combo in itertools.product(*choices):
        text = data
        for ref, value in zip(refs, combo, strict=True):
            text = text.replace(f"${ref}", value)
        results.append(text)
    return results


def _groups(pattern: str) -> dict[str, str]:
    """The capture groups of a (simple, unnested) macro pattern: number -> its regex."""
    return {str(i): body for i, body in enumerate(re.findall(r"(?<!\\)\(((?:[^()\\]|\\.)*)\)", pattern), start=1)}


@pytest.mark.parametrize("lang", sorted(sounds.LANGUAGES))
def test_every_phrase_macro_plays_existing_files(lang: str) -> None:
    """mod_voicemail's macros all exist, and every file they can play (each value a pattern's
    group can take substituted) is in the language's tree: no "File ... not found" on a call."""
    directory = language_dirs()[lang]
    root = ET.fromstring("<r>" + "".join(
        re.sub(r"<\?xml[^>]*\?>", "", p.read_text(encoding="utf-8"))
        for p in sorted((CONF / "lang" / lang / "vm").glob("*.xml"))) + "</r>")
    macros = {m.get("name"): m for m in root.iter("macro")}
    assert VOICEMAIL_MACROS <= set(macros), VOICEMAIL_MACROS - set(macros)
    checked, missing = 0, []
    for name, macro in macros.items():
        for entry in macro.iter("input"):
            groups = _groups(entry.get("pattern", ""))
            for action in entry.iter("action"):
                assert action.get("function") in ("play-file", "execute"), (name, action.attrib)
                data = action.get("data", "")
                if action.get("function") != "play-file" or "://" in data:
                    continue
                for path in _expansions(data, groups):
                    checked += 1
                    if not (directory / path).is_file():
                        missing.append(f"{name}: {path}")
    assert not missing, missing[:10]
    assert checked > 300
    print(f"\n{lang}: {len(macros)} phrase macros, {checked} file plays checked")


def test_hold_music_is_where_local_stream_default_reads() -> None:
    """local_stream://default reads $${sounds_dir}/music/8000: a real 8 kHz file is there."""
    conf = ET.parse(CONF / "autoload_configs" / "local_stream.conf.xml").getroot()
    default = next(d for d in conf.iter("directory") if d.get("name") == "default")
    assert default.get("path") == "$${sounds_dir}/music/8000"
    music = list((SOUNDS / "music" / "8000").glob("*.wav"))
    assert music
    with wave.open(str(music[0]), "rb") as wav:
        assert wav.getframerate() == 8000 and wav.getnframes() / 8000 >= 20


def test_the_configuration_plays_only_files_it_has() -> None:
    """Nothing under freeswitch/conf names a sound pack file (ivr/ivr-..., en/us/callie)."""
    for path in CONF.rglob("*.xml"):
        text = path.read_text(encoding="utf-8")
        assert "callie" not in text and "ivr/ivr-" not in text, path
        for played in re.findall(r'data="((?:system|voicemail|digits)/[^"$]+\.wav)"', text):
            for directory in language_dirs().values():
                assert (directory / played).is_file(), (path, played)
