"""An IVR's prompts to files FreeSWITCH plays (real prompt store, ffmpeg and OpenJTalk), the
speech synthesised off the gevent hub, and the settings that place the store."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hibiki.callcontrol.config import CallControlConfig
from hibiki.callcontrol.ivr.bridge import LoopBridge
from hibiki.callcontrol.ivr.instructions import PromptRef
from hibiki.callcontrol.ivr.prompts import PromptResolver, PromptUnavailable, playable
from hibiki.callcontrol.prompts.model import Speech
from hibiki.callcontrol.prompts.store import AsyncPromptStore, PromptStore, prompts_root
from hibiki.callcontrol.prompts.tts import OpenJTalk
from hibiki.common.errors import ConfigError
from pydub.generators import Sine  # after the prompts modules, which import pydub quietly


class CountingJTalk:
    def __init__(self) -> None:
        self.inner = OpenJTalk()
        self.spoken: list[str] = []

    def engine(self, voice: str) -> str:
        return self.inner.engine(voice)

    def __call__(self, text: str, voice: str, speed: float) -> Speech:
        self.spoken.append(text)
        return self.inner(text, voice, speed)


@pytest.fixture
def synthesiser() -> CountingJTalk:
    return CountingJTalk()


@pytest.fixture
def store(tmp_path: Path, synthesiser: CountingJTalk) -> PromptStore:
    return PromptStore(prompts_root(tmp_path), synthesiser, playback_root="/srv/hibiki/prompts")


async def test_sounds_uploads_and_texts_become_playable_paths(store: PromptStore, synthesiser: CountingJTalk) -> None:
    resolver = PromptResolver(AsyncPromptStore(store))
    assert await resolver.path("zama", PromptRef("sound", "ivr/ivr-welcome.wav")) == "ivr/ivr-welcome.wav"
    assert await resolver.path("zama", PromptRef("sound", "tone_stream://%(250,0,440)")) == "tone_stream://%(250,0,440)"
    out = io.BytesIO()
    Sine(440).to_audio_segment(duration=800).export(out, format="wav")
    upload = store.normalise("zama", out.getvalue())
    assert await resolver.path("zama", PromptRef("prompt_id", upload.id)) == f"/srv/hibiki/prompts/zama/{upload.id}.wav"
    spoken = await resolver.path("zama", PromptRef("text", "水道のご用件は1を押してください。"))
    again = await resolver.path("zama", PromptRef("text", "水道のご用件は1を押してください。"))
    assert spoken == again and spoken.startswith("/srv/hibiki/prompts/zama/t") and spoken.endswith(".wav")
    assert synthesiser.spoken == ["水道のご用件は1を押してください。"]           # once, then from the store
    assert (store.root / "zama" / Path(spoken).name).stat().st_size > 1000


@pytest.mark.parametrize("prompt, error_id", [
    (PromptRef("prompt_id", "u" + "0" * 32), "prompt-not-found"),
    (PromptRef("prompt_id", "../../etc/passwd"), "invalid-prompt-id"),
    (PromptRef("text", "   "), "empty-text"),
    (PromptRef("sound", "ivr/a file.wav"), "unplayable-path"),
    (PromptRef("sound", "${system(reboot)}"), "unplayable-path"),
    (PromptRef("sound", "ivr/x.wav\nexecute-app-name: hangup"), "unplayable-path"),
])
async def test_what_cannot_be_played_is_refused(store: PromptStore, prompt: PromptRef, error_id: str) -> None:
    with pytest.raises(PromptUnavailable) as refused:
        await PromptResolver(AsyncPromptStore(store)).path("zama", prompt)
    assert refused.value.error_id == error_id


async def test_a_store_path_freeswitch_would_split_is_refused(tmp_path: Path) -> None:
    store = PromptStore(tmp_path / "with space", OpenJTalk())
    with pytest.raises(PromptUnavailable):
        await PromptResolver(AsyncPromptStore(store)).path("zama", PromptRef("text", "こんにちは"))
    assert playable("/var/lib/hibiki/prompts/zama/t0.wav")


async def test_speech_is_synthesised_off_the_gevent_hub(store: PromptStore) -> None:
    resolver = PromptResolver(AsyncPromptStore(store))
    bridge = LoopBridge(asyncio.get_running_loop())
    seen: dict[str, Any] = {}

    def on_hub() -> None:
        import gevent

        ticks: list[float] = []

        def tick() -> None:
            while "path" not in seen:
                ticks.append(time.monotonic())
                gevent.sleep(0.005)

        ticker = gevent.spawn(tick)
        began = time.monotonic()
        seen["path"] = bridge.call(resolver.path("zama", PromptRef("text", "本日の受付は終了しました。" * 4)), 30)
        seen["took"] = time.monotonic() - began
        seen["ticks"] = len(ticks)
        ticker.join()

    thread = threading.Thread(target=on_hub)
    thread.start()
    await asyncio.to_thread(thread.join, 60)
    assert str(seen["path"]).endswith(".wav")
    assert seen["took"] > 0.05 and seen["ticks"] >= seen["took"] / 0.005 / 4     # the hub kept running


def test_settings_place_the_store_and_the_directory() -> None:
    config = CallControlConfig.from_env({"HIBIKI_DATA_DIR": "/tmp/hibiki-x"})
    assert config.prompts_root == Path("/tmp/hibiki-x/prompts")
    assert config.directory_grpc == "127.0.0.1:50052" and config.directory_timeout == 2.0
    assert config.hold_music == "local_stream://default" and config.prompts_playback_root is None
    config = CallControlConfig.from_env({
        "HIBIKI_DATA_DIR": "/tmp/hibiki-x", "HIBIKI_CALLCONTROL_PROMPTS_DIR": "/mnt/prompts",
        "HIBIKI_CALLCONTROL_PROMPTS_PLAYBACK_ROOT": "/usr/share/hibiki/prompts",
        "HIBIKI_CALLCONTROL_DIRECTORY_GRPC": "directory:50052", "HIBIKI_CALLCONTROL_DIRECTORY_TIMEOUT": "1.5",
        "HIBIKI_CALLCONTROL_HOLD_MUSIC": "local_stream://moh"})
    assert config.prompts_root == Path("/mnt/prompts") and config.prompts_playback_root == "/usr/share/hibiki/prompts"
    assert (config.directory_grpc, config.directory_timeout, config.hold_music) == ("directory:50052", 1.5,
                                                                                    "local_stream://moh")
    with pytest.raises(ConfigError):
        CallControlConfig.from_env({"HIBIKI_CALLCONTROL_PROMPTS_PLAYBACK_ROOT": "relative/path"})
    with pytest.raises(ConfigError):
        CallControlConfig.from_env({"HIBIKI_CALLCONTROL_DIRECTORY_TIMEOUT": "soon"})
