"""The prompt store with the real thing: pydub, the ffmpeg binary of imageio-ffmpeg and
pyopenjtalk-plus. Audio is made in each test; formats are read back with ``wave``."""

from __future__ import annotations

import asyncio
import io
import os
import threading
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hibiki.callcontrol.prompts import audio
from hibiki.callcontrol.prompts.errors import (
    AudioTooLarge,
    InvalidAudio,
    InvalidRequest,
    InvalidText,
    PromptError,
    PromptNotFound,
)
from hibiki.callcontrol.prompts.model import MAX_SPEED, MIN_SPEED, Speech, clean_text, tts_key
from hibiki.callcontrol.prompts.store import AsyncPromptStore, PromptStore, prompts_root
from hibiki.callcontrol.prompts.tts import OpenJTalk
import pyopenjtalk  # after the prompts modules, which import these quietly
from pydub import AudioSegment
from pydub.generators import Sine, WhiteNoise

GREETING = "お電話ありがとうございます。"


class CountingSynthesiser:
    """The real OpenJTalk, counting how often it is asked to speak."""

    def __init__(self, inner: OpenJTalk) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def engine(self, voice: str) -> str:
        return self.inner.engine(voice)

    def __call__(self, text: str, voice: str, speed: float) -> Speech:
        with self._lock:
            self.calls.append(text)
        return self.inner(text, voice, speed)


@pytest.fixture(scope="module")
def openjtalk() -> OpenJTalk:
    # the bundled voice file once more, under a name: the path other .htsvoice files take
    return OpenJTalk({"mei": Path(pyopenjtalk.DEFAULT_HTS_VOICE.decode())})


@pytest.fixture
def synthesiser(openjtalk: OpenJTalk) -> CountingSynthesiser:
    return CountingSynthesiser(openjtalk)


@pytest.fixture
def store(tmp_path: Path, synthesiser: CountingSynthesiser) -> PromptStore:
    return PromptStore(prompts_root(tmp_path), synthesiser)


def tone(ms: int = 2000, volume: float = -6.0, rate: int = 44100, channels: int = 2) -> AudioSegment:
    return Sine(440, sample_rate=rate).to_audio_segment(duration=ms, volume=volume).set_channels(channels)


def wav_bytes(segment: AudioSegment) -> bytes:
    out = io.BytesIO()
    segment.export(out, format="wav")
    return out.getvalue()


def assert_playable(path: Path) -> AudioSegment:
    """8 kHz, mono, 16-bit signed PCM WAV: what FreeSWITCH plays as it is."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getcomptype()) == (8000, 1, 2, "NONE")
    return AudioSegment.from_wav(io.BytesIO(path.read_bytes()))


# ---- uploads ---------------------------------------------------------------------------------

def test_a_44k_stereo_wav_becomes_8k_mono_at_the_target_loudness(store: PromptStore) -> None:
    prompt = store.normalise("zama", wav_bytes(tone(2000, volume=-3.0)), "welcome.wav")
    assert prompt.path == store.root / "zama" / f"{prompt.id}.wav" and prompt.path.is_absolute()
    assert prompt.id.startswith("u") and prompt.source == "upload" and prompt.sample_rate == 8000
    result = assert_playable(prompt.path)
    assert abs(prompt.duration_ms - 2000) <= 20 and abs(len(result) - 2000) <= 20
    assert result.dBFS == pytest.approx(audio.TARGET_DBFS, abs=0.5)
    assert result.max_dBFS <= audio.PEAK_CEILING_DBFS + 0.1


def test_an_mp3_is_recognised_by_its_bytes_not_its_name(store: PromptStore, tmp_path: Path) -> None:
    mp3 = tmp_path / "made.mp3"
    tone(1500, volume=-30.0, rate=48000).export(str(mp3), format="mp3").close()      # ffmpeg + LAME
    prompt = store.normalise("zama", mp3.read_bytes(), "misnamed.wav")
    result = assert_playable(prompt.path)
    assert abs(len(result) - 1500) <= 60
    assert result.dBFS == pytest.approx(audio.TARGET_DBFS, abs=0.5)        # a quiet file is raised


def test_peaky_audio_is_limited_by_its_peak_not_pushed_to_the_target(store: PromptStore) -> None:
    clicks = AudioSegment.silent(2000, frame_rate=44100)
    for at in range(0, 2000, 500):
        clicks = clicks.overlay(tone(5, volume=-10.0, channels=1), position=at)
    result = assert_playable(store.normalise("zama", wav_bytes(clicks)).path)
    assert result.max_dBFS == pytest.approx(audio.PEAK_CEILING_DBFS, abs=0.3)
    assert result.dBFS < audio.TARGET_DBFS - 3


def test_leading_and_trailing_silence_is_trimmed_to_a_little(store: PromptStore) -> None:
    quiet = AudioSegment.silent(1500, frame_rate=44100).set_channels(2)
    noise = WhiteNoise(sample_rate=44100).to_audio_segment(duration=1500, volume=-75.0).set_channels(2)
    padded = quiet.overlay(noise) + tone(1000) + quiet
    result = assert_playable(store.normalise("zama", wav_bytes(padded)).path)
    assert abs(len(result) - (1000 + 2 * audio.KEEP_SILENCE_MS)) <= 30


def test_the_same_sound_uploaded_twice_is_one_prompt(store: PromptStore) -> None:
    upload = wav_bytes(tone(800))
    first, second = store.normalise("zama", upload), store.normalise("zama", upload)
    assert first == second and len(store.list_prompts("zama")) == 1


@pytest.mark.parametrize("upload, error_id", [
    (b"", "empty-audio"),
    (os.urandom(4096), "unsupported-audio-format"),
    ("ただのテキストです\n".encode() * 50, "unsupported-audio-format"),
    (b"OggS\x00\x02" + bytes(200), "unsupported-audio-format"),
    (b"RIFF\x24\x00\x00\x00WAVE" + b"garbage!" * 64, "undecodable-audio"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(100), "undecodable-audio"),
])
def test_garbage_is_refused_saying_why(store: PromptStore, upload: bytes, error_id: str) -> None:
    with pytest.raises(InvalidAudio) as refused:
        store.normalise("zama", upload, "upload.bin")
    assert refused.value.error_id == error_id and refused.value.status == 422
    assert "upload" in refused.value.message
    assert store.list_prompts("zama") == [] and not any((store.root / "zama").glob(".*.tmp"))


def test_silence_too_long_and_too_large_are_refused(tmp_path: Path, synthesiser: CountingSynthesiser) -> None:
    store = PromptStore(tmp_path, synthesiser, max_upload_bytes=200_000, max_seconds=1.0)
    with pytest.raises(InvalidAudio, match="silent") as silent:
        store.normalise("zama", wav_bytes(AudioSegment.silent(500, frame_rate=8000)))
    assert silent.value.error_id == "silent-audio"
    with pytest.raises(InvalidAudio, match="more than the 1 s") as long:
        store.normalise("zama", wav_bytes(tone(1500, rate=8000, channels=1)))
    assert long.value.error_id == "audio-too-long"
    with pytest.raises(AudioTooLarge, match="more than the 200000") as large:
        store.normalise("zama", wav_bytes(tone(3000)))
    assert large.value.error_id == "audio-too-large" and large.value.status == 413


# ---- text to speech --------------------------------------------------------------------------

def test_japanese_text_is_spoken_into_an_8k_mono_wav(store: PromptStore) -> None:
    prompt = store.speak("zama", GREETING)
    assert prompt.id.startswith("t") and prompt.source == "tts"
    result = assert_playable(prompt.path)
    assert 800 <= prompt.duration_ms <= 4000 and abs(len(result) - prompt.duration_ms) <= 1
    assert result.dBFS > audio.TARGET_DBFS - 6 and result.max_dBFS <= audio.PEAK_CEILING_DBFS + 0.1
    slow = store.speak("zama", GREETING, speed=0.7)
    assert slow.id != prompt.id and slow.duration_ms > prompt.duration_ms * 1.2


def test_the_second_request_for_a_text_is_served_from_the_cache(
        store: PromptStore, synthesiser: CountingSynthesiser) -> None:
    first = store.speak("zama", GREETING)
    written = first.path.stat().st_mtime_ns
    again = store.speak("zama", f"  {GREETING}\n")          # same text once cleaned
    assert again == first and synthesiser.calls == [GREETING]
    assert first.path.stat().st_mtime_ns == written
    other_voice = store.speak("zama", GREETING, voice="mei")
    assert other_voice.id != first.id and len(synthesiser.calls) == 2
    assert len(store.list_prompts("zama")) == 2


def test_concurrent_requests_for_one_text_synthesise_once(
        store: PromptStore, synthesiser: CountingSynthesiser) -> None:
    with ThreadPoolExecutor(8) as pool:
        prompts = list(pool.map(lambda _: store.speak("zama", "ただいま電話が混み合っております。"),
                                range(8)))
    assert len(set(prompts)) == 1 and len(synthesiser.calls) == 1
    assert_playable(prompts[0].path)
    assert sorted(p.name for p in prompts[0].path.parent.iterdir()) == [prompts[0].path.name]


@pytest.mark.parametrize("text, error_id", [
    ("", "empty-text"), ("  　 ", "empty-text"), ("あ" * 1001, "text-too-long"),
    ("ベル\x07です", "invalid-text"), ("一行目\n二行目", "invalid-text"), ("。。。", "unspeakable-text"),
])
def test_bad_text_is_refused(store: PromptStore, text: str, error_id: str) -> None:
    with pytest.raises(InvalidText) as refused:
        store.speak("zama", text)
    assert refused.value.error_id == error_id
    assert store.list_prompts("zama") == []


@pytest.mark.parametrize("call, error_id", [
    (lambda s: s.speak("zama", GREETING, voice="nobody"), "unknown-voice"),
    (lambda s: s.speak("zama", GREETING, speed=0.1), "invalid-speed"),
    (lambda s: s.speak("zama", GREETING, speed=float("nan")), "invalid-speed"),
    (lambda s: s.speak("../etc", GREETING), "invalid-tenant"),
    (lambda s: s.get("zama", "../../passwd"), "invalid-prompt-id"),
    (lambda s: s.delete("zama", "t" + "0" * 31 + "/"), "invalid-prompt-id"),
])
def test_bad_names_are_refused(store: PromptStore, call: Callable[[PromptStore], object], error_id: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        call(store)
    assert refused.value.error_id == error_id


# ---- the store ---------------------------------------------------------------------------------

def test_tenants_listing_deletion_and_the_path_freeswitch_plays(
        tmp_path: Path, synthesiser: CountingSynthesiser) -> None:
    store = PromptStore(tmp_path / "local", synthesiser, playback_root="/var/lib/hibiki/prompts")
    notice = store.speak("zama", "この通話は録音されます。")
    upload = store.normalise("zama", wav_bytes(tone(500)))
    assert [p.id for p in store.list_prompts("zama")] == sorted([notice.id, upload.id])
    assert store.list_prompts("ebina") == []
    assert notice.playback == f"/var/lib/hibiki/prompts/zama/{notice.id}.wav"
    assert store.playback_path("zama", notice.id) == notice.playback
    assert store.get("zama", notice.id) == notice
    with pytest.raises(PromptNotFound):
        store.get("ebina", notice.id)
    store.delete("zama", notice.id)
    assert store.list_prompts("zama") == [upload]
    with pytest.raises(PromptNotFound) as gone:
        store.delete("zama", notice.id)
    assert gone.value.status == 404
    assert oct(upload.path.stat().st_mode & 0o777) == oct(0o644)
    with pytest.raises(ValueError):
        PromptStore(tmp_path, synthesiser, playback_root="relative/dir")


async def test_the_async_facade_runs_the_store_in_threads(store: PromptStore) -> None:
    facade = AsyncPromptStore(store)
    spoken, uploaded = await asyncio.gather(facade.speak("zama", "少々お待ちください。"),
                                            facade.normalise("zama", wav_bytes(tone(400)), "hold.wav"))
    assert await facade.get("zama", spoken.id) == spoken
    assert {p.id for p in await facade.list_prompts("zama")} == {spoken.id, uploaded.id}
    await facade.delete("zama", uploaded.id)
    with pytest.raises(PromptError):
        await facade.normalise("zama", b"nonsense", "x.mp3")
    assert await facade.list_prompts("zama") == [spoken]


def test_the_tts_engine_needs_no_download() -> None:
    package = Path(pyopenjtalk.__file__).parent
    dictionary = Path(pyopenjtalk.OPEN_JTALK_DICT_DIR.decode())
    assert dictionary.is_relative_to(package) and (dictionary / "sys.dic").is_file()
    assert Path(pyopenjtalk.DEFAULT_HTS_VOICE.decode()).is_relative_to(package)


# ---- the cache key -----------------------------------------------------------------------------

_voices = st.sampled_from(["default", "mei", "takumi", "a-b"])
_speeds = st.floats(min_value=MIN_SPEED, max_value=MAX_SPEED, allow_nan=False)
_texts = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=40).filter(lambda t: t.strip())


@given(a=st.tuples(_texts, _voices, _speeds), b=st.tuples(_texts, _voices, _speeds),
       engine=st.sampled_from(["pyopenjtalk-plus 0.4.1-post10", "pyopenjtalk-plus 0.5"]))
def test_cache_keys_are_equal_exactly_when_the_cleaned_inputs_are(
        a: tuple[str, str, float], b: tuple[str, str, float], engine: str) -> None:
    key_a = tts_key(clean_text(a[0], 1000), a[1], a[2], engine)
    key_b = tts_key(clean_text(b[0], 1000), b[1], b[2], engine)
    same_inputs = (clean_text(a[0], 1000), a[1], a[2]) == (clean_text(b[0], 1000), b[1], b[2])
    assert (key_a == key_b) == same_inputs
    assert key_a == tts_key(clean_text(a[0], 1000), a[1], a[2], engine)


def test_cache_key_examples() -> None:
    engine = "pyopenjtalk-plus 0.4.1-post10"
    composed, decomposed = "ご案内します", "こ\u3099案内します"
    assert tts_key(clean_text(composed, 99), "default", 1.0, engine) == \
        tts_key(clean_text(decomposed, 99), "default", 1.0, engine)
    assert tts_key("a", "default", 1.0, engine) != tts_key("a", "default", 1.0000000000000002, engine)
    assert tts_key("a", "b", 1.0, engine) != tts_key("ab", "", 1.0, engine)


@given(text=_texts, voice=_voices, speed=_speeds)
def test_a_new_engine_never_reuses_a_key(text: str, voice: str, speed: float) -> None:
    cleaned = clean_text(text, 1000)
    assert tts_key(cleaned, voice, speed, "pyopenjtalk-plus 1") != tts_key(cleaned, voice, speed, "pyopenjtalk-plus 2")


@given(st.text(max_size=60))
def test_text_is_either_cleaned_or_refused_with_our_error(text: str) -> None:
    try:
        cleaned = clean_text(text, 50)
    except InvalidText:
        return
    assert cleaned and cleaned == cleaned.strip() and len(cleaned) <= 50
