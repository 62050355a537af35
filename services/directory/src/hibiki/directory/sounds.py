"""What callers hear: the system prompts the dialplans play and a tenant's language.

The files are Hibiki's own sound directory (the repository's ``freeswitch/sounds``, FreeSWITCH's
``sounds_dir``), one tree per language under ``<language prefix>/``; the names below are relative
to the channel's ``sound_prefix``. The node's default is Japanese (``vars.xml``:
``default_language=ja``, ``sound_prefix=$${sounds_dir}/ja/jp/hibiki``); a tenant in another
language gets both set on each of its calls, so the system prompts, callcontrol's stock prompts
and mod_voicemail's phrases (``freeswitch/conf/lang/<language>/``) all follow.
A test checks that every name here exists in every language's tree.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "ja"
LANGUAGES = {"ja": "ja/jp/hibiki", "en": "en/us/hibiki"}     # language -> prefix under sounds_dir

UNALLOCATED_PROMPT = "system/unallocated.wav"   # a number nobody has
RESTRICTED_PROMPT = "system/restricted.wav"     # refused by the caller's class of service
FAILED_PROMPT = "system/failed.wav"             # temporary failure: no gateway, callcontrol gone, ...
APOLOGY_PROMPT = "system/apology.wav"           # callcontrol handed the call back: on to the number's fallback
RECORDING_NOTICE_PROMPT = "system/recording_notice.wav"   # REC-02: played before a recording starts
PROMPTS = (UNALLOCATED_PROMPT, RESTRICTED_PROMPT, FAILED_PROMPT, APOLOGY_PROMPT, RECORDING_NOTICE_PROMPT)


def channel_language(language: str) -> dict[str, str]:
    """The channel variables that make a call of a tenant in ``language`` speak it (none for
    the node's default); an unknown language is the default."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return {}
    return {"default_language": language, "sound_prefix": "${sounds_dir}/" + LANGUAGES[language]}
