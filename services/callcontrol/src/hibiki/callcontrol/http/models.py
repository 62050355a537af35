"""What the prompts API accepts and returns (pydantic models, described in its OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hibiki.callcontrol.prompts.model import DEFAULT_VOICE, MAX_SPEED, MIN_SPEED
from hibiki.callcontrol.prompts.store import MAX_TEXT_CHARS


class PromptOut(BaseModel):
    id: str = Field(description="what an IVR names in {\"prompt_id\": ...}")
    tenant: str
    source: Literal["tts", "upload"]
    duration_ms: int
    sample_rate: int
    playback: str = Field(description="the absolute path FreeSWITCH plays")


class Prompts(BaseModel):
    items: list[PromptOut]


class SpeakIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="Japanese text to speak")
    voice: str = Field(default=DEFAULT_VOICE, max_length=32)
    speed: float = Field(default=1.0, ge=MIN_SPEED, le=MAX_SPEED)


class UploadQuery(BaseModel):
    filename: str = Field(default="", max_length=255, description="the file's name, for messages only")


class HoldMusicIn(BaseModel):
    prompt_id: str = Field(description="one of the tenant's prompts")


class HoldMusicOut(BaseModel):
    prompt_id: str | None = Field(description="the chosen prompt; null: the platform's default")
    playback: str = Field(description="what FreeSWITCH plays to the tenant's queued callers")
