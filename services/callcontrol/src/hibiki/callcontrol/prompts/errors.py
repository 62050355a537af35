"""Errors of the prompt store, each with a stable id an HTTP adapter can return.

    PromptError
     ├── InvalidAudio    (422) an upload that cannot become a prompt: not WAV or MP3,
     │                   empty, undecodable, silent, longer than allowed
     ├── AudioTooLarge   (413) an upload over the byte limit (refused before decoding)
     ├── InvalidText     (422) TTS input: empty, too long, control characters, nothing to say
     ├── InvalidRequest  (422) a malformed tenant, prompt id, voice or speed
     ├── PromptNotFound  (404)
     └── ConversionFailed (500) ffmpeg or the synthesiser failed on input we accepted
"""

from __future__ import annotations


class PromptError(Exception):
    status = 400

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message


class InvalidAudio(PromptError):
    status = 422


class AudioTooLarge(PromptError):
    status = 413


class InvalidText(PromptError):
    status = 422


class InvalidRequest(PromptError):
    status = 422


class PromptNotFound(PromptError):
    status = 404


class ConversionFailed(PromptError):
    status = 500
