"""fsemu: a FreeSWITCH 1.10 emulator for Hibiki's tests (pure asyncio, stdlib only).

See README.md for what is emulated and where each behaviour comes from.
"""
from .urlencode import UrlDecodeError, url_decode, url_encode
from .esl_wire import EslFramingError, EslMessage
from .channel import Channel, ChannelSeed
from .emulator import Call, FreeSwitchEmulator
from .xml_curl import XmlCurlClient, XmlCurlResponse, DirectoryUser
from .sofia_reg import Registration, RegisterResult, SofiaProfile
from .originate import Leg

__all__ = [
    "Call", "Channel", "ChannelSeed", "DirectoryUser", "EslFramingError", "EslMessage",
    "FreeSwitchEmulator", "Leg", "Registration", "RegisterResult", "SofiaProfile", "UrlDecodeError",
    "XmlCurlClient", "XmlCurlResponse",
    "url_decode", "url_encode",
]
