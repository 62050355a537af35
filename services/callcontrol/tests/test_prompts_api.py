"""The prompt store over callcontrol's HTTP API: upload, speak, list, listen, delete, with roles."""

from __future__ import annotations

import dataclasses
import io
import wave
from pathlib import Path
from typing import Any

import httpx
from pydub.generators import Sine

from hibiki.callcontrol.app import main
from hibiki.callcontrol.config import CallControlConfig
from hibiki.common.auth import Claims, TokenAuthority
from support.servers import free_port, running


def tone_wav() -> bytes:
    out = io.BytesIO()
    Sine(440, sample_rate=44100).to_audio_segment(duration=1500, volume=-12).set_channels(2).export(out, format="wav")
    return out.getvalue()


async def test_prompts_are_uploaded_spoken_listed_played_and_deleted(tmp_path: Path, nats_server: Any,
                                                                     authority: TokenAuthority) -> None:
    config = dataclasses.replace(
        CallControlConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port(), esl_port=free_port())
    admin = {"Authorization": "Bearer " + authority.issue(Claims("kanazawa-admin", "user", "kanazawa", ("admin",)))}
    viewer = {"Authorization": "Bearer " + authority.issue(Claims("kanazawa-viewer", "user", "kanazawa", ("viewer",)))}
    other = {"Authorization": "Bearer " + authority.issue(Claims("zama-admin", "user", "zama", ("admin",)))}
    base = "/api/v1/tenants/kanazawa/prompts"
    async with running(main, config), httpx.AsyncClient(base_url=f"http://127.0.0.1:{config.port}",
                                                         timeout=30) as api:
        uploaded = await api.post(base, content=tone_wav(), params={"filename": "welcome.wav"}, headers=admin)
        assert uploaded.status_code == 201, uploaded.text
        prompt = uploaded.json()
        assert prompt["source"] == "upload" and prompt["sample_rate"] == 8000 and 1300 <= prompt["duration_ms"] <= 1600
        assert prompt["playback"].endswith(".wav") and Path(prompt["playback"]).is_absolute()

        spoken = await api.post(f"{base}/speak", json={"text": "お電話ありがとうございます。"}, headers=admin)
        assert spoken.status_code == 201, spoken.text
        again = await api.post(f"{base}/speak", json={"text": "お電話ありがとうございます。"}, headers=admin)
        assert again.json()["id"] == spoken.json()["id"]          # cached by text and voice

        listed = (await api.get(base, headers=viewer)).json()["items"]
        assert {p["id"] for p in listed} == {prompt["id"], spoken.json()["id"]}
        audio = await api.get(f"{base}/{prompt['id']}/audio", headers=viewer)
        with wave.open(io.BytesIO(audio.content)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)

        garbage = await api.post(base, content=b"this is not audio at all" * 10, headers=admin)
        assert garbage.status_code == 422 and garbage.json()["error_id"] == "unsupported-audio-format"
        empty_text = await api.post(f"{base}/speak", json={"text": ""}, headers=admin)
        assert empty_text.status_code == 422
        assert (await api.post(base, content=tone_wav(), headers=viewer)).status_code == 403
        assert (await api.get(base, headers=other)).status_code == 403
        assert (await api.get(base)).status_code == 401

        assert (await api.delete(f"{base}/{prompt['id']}", headers=admin)).status_code == 204
        gone = await api.get(f"{base}/{prompt['id']}", headers=admin)
        assert gone.status_code == 404


async def test_a_tenant_chooses_its_own_hold_music(tmp_path: Path, nats_server: Any, authority: TokenAuthority) -> None:
    """PUT .../hold_music makes an uploaded prompt what the tenant's queued callers hear; DELETE
    (or deleting the prompt) goes back to the platform's default. Another tenant's prompt, a
    malformed or unknown id, or a viewer are refused with the reason."""
    config = dataclasses.replace(
        CallControlConfig.from_env({"HIBIKI_DATA_DIR": str(tmp_path), "HIBIKI_NATS_URL": nats_server.url}),
        port=free_port(), esl_port=free_port())
    admin = {"Authorization": "Bearer " + authority.issue(Claims("kanazawa-admin", "user", "kanazawa", ("admin",)))}
    viewer = {"Authorization": "Bearer " + authority.issue(Claims("kanazawa-viewer", "user", "kanazawa", ("viewer",)))}
    zama = {"Authorization": "Bearer " + authority.issue(Claims("zama-admin", "user", "zama", ("admin",)))}
    music = "/api/v1/tenants/kanazawa/hold_music"
    async with running(main, config), httpx.AsyncClient(base_url=f"http://127.0.0.1:{config.port}",
                                                         timeout=30) as api:
        default = await api.get(music, headers=viewer)
        assert default.json() == {"prompt_id": None, "playback": "local_stream://default"}
        tune = (await api.post("/api/v1/tenants/kanazawa/prompts", content=tone_wav(), headers=admin)).json()
        theirs = (await api.post("/api/v1/tenants/zama/prompts", content=tone_wav(), headers=zama)).json()
        assert tune["id"] == theirs["id"]                         # same audio, but each tenant's own copy

        assert (await api.put(music, json={"prompt_id": tune["id"]}, headers=viewer)).status_code == 403
        malformed = await api.put(music, json={"prompt_id": "../../etc/passwd"}, headers=admin)
        assert malformed.status_code == 422 and malformed.json()["error_id"] == "invalid-prompt-id"
        missing = await api.put(music, json={"prompt_id": "u" + "0" * 32}, headers=admin)
        assert missing.status_code == 404 and missing.json()["error_id"] == "prompt-not-found"
        no_id = await api.put(music, json={}, headers=admin)
        assert no_id.status_code == 422 and no_id.json()["details"]["field"] == "prompt_id"

        chosen = await api.put(music, json={"prompt_id": tune["id"]}, headers=admin)
        assert chosen.status_code == 200 and chosen.json() == {"prompt_id": tune["id"], "playback": tune["playback"]}
        assert (await api.get(music, headers=viewer)).json()["playback"] == tune["playback"]
        assert (await api.get("/api/v1/tenants/zama/hold_music", headers=zama)).json()["prompt_id"] is None

        assert (await api.delete(music, headers=admin)).status_code == 204
        assert (await api.get(music, headers=viewer)).json()["prompt_id"] is None
        await api.put(music, json={"prompt_id": tune["id"]}, headers=admin)
        await api.delete(f"/api/v1/tenants/kanazawa/prompts/{tune['id']}", headers=admin)
        assert (await api.get(music, headers=viewer)).json() == {"prompt_id": None, "playback": "local_stream://default"}
