"""An IVR's prompt to the file FreeSWITCH plays.

``sound``: a FreeSWITCH sound path, as is; ``prompt_id``: the prompt store's playback path
(the file must exist); ``text``: spoken by the store's TTS (synthesised once, then cached),
in the store's worker threads, never on an event loop or the gevent hub.

Whatever is returned goes into application arguments FreeSWITCH splits on spaces and
expands (``${...}``), so a path with a space, a ``$`` or a brace is refused.
"""

from __future__ import annotations

import re

from hibiki.callcontrol.ivr.instructions import PromptRef
from hibiki.callcontrol.prompts.errors import PromptError
from hibiki.callcontrol.prompts.store import AsyncPromptStore

# sound files, tone_stream://%(250,0,440), silence_stream://500, file_string://a.wav!b.wav
_PLAYABLE = re.compile(r"^[A-Za-z0-9_./:%(),;=+!@#*~-]{1,1024}$")


class PromptUnavailable(Exception):
    """A prompt that cannot be played: unknown, unspeakable, or an unsafe path."""

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id


def playable(path: str) -> str:
    if not _PLAYABLE.match(path):
        raise PromptUnavailable("unplayable-path", f"{path!r} cannot be given to FreeSWITCH as a file to play")
    return path


class PromptResolver:
    def __init__(self, store: AsyncPromptStore) -> None:
        self._store = store

    async def path(self, tenant: str, prompt: PromptRef) -> str:
        if prompt.source == "sound":
            return playable(prompt.value)
        try:
            if prompt.source == "prompt_id":
                found = await self._store.get(tenant, prompt.value)
            else:
                found = await self._store.speak(tenant, prompt.value)
        except PromptError as exc:
            raise PromptUnavailable(exc.error_id, f"{prompt.source} prompt: {exc.message}") from exc
        return playable(found.playback)
