"""Prompts for IVRs and announcements: uploads and spoken text made into files FreeSWITCH plays.

``model`` (what a prompt is, names, cache keys), ``errors``, ``audio`` (ffmpeg and pydub),
``tts`` (pyopenjtalk-plus), ``store`` (files per tenant; ``PromptStore``, ``AsyncPromptStore``).
The recording notice and the waiting-queue messages are prompts like any other.
"""
