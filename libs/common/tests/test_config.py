from __future__ import annotations

import ipaddress
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hibiki.common.config import Env, data_dir
from hibiki.common.errors import ConfigError


def test_scoped_keys_and_defaults() -> None:
    env = Env.load("directory", {"HIBIKI_DIRECTORY_PORT": "9090", "HIBIKI_LOG_LEVEL": "debug"})
    assert env.key("port") == "HIBIKI_DIRECTORY_PORT"
    assert env.port("PORT", 8080) == 9090
    assert env.port("OTHER_PORT", 8080) == 8080
    assert Env.load("", env.environ).text("LOG_LEVEL", "info") == "debug"


@pytest.mark.parametrize("value", ["abc", "-1", "65536", "80.5", "8080x"])
def test_malformed_port_names_the_variable(value: str) -> None:
    env = Env.load("acd", {"HIBIKI_ACD_GRPC_PORT": value})
    with pytest.raises(ConfigError, match=r"HIBIKI_ACD_GRPC_PORT=.* is not a TCP port"):
        env.port("GRPC_PORT", 50051)


def test_required_value_missing() -> None:
    with pytest.raises(ConfigError, match="HIBIKI_X_NAME is required"):
        Env.load("x", {}).text("NAME")


def test_flags_numbers_and_networks() -> None:
    env = Env.load("", {"HIBIKI_A": "yes", "HIBIKI_B": "maybe", "HIBIKI_N": "10.0.0.0/8, ::1",
                        "HIBIKI_BAD": "10.0.0.0/8,not-an-ip", "HIBIKI_I": "7", "HIBIKI_J": "x"})
    assert env.flag("A", False) is True
    with pytest.raises(ConfigError, match="HIBIKI_B='maybe' is not a boolean"):
        env.flag("B", False)
    assert env.networks("N", "") == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))
    with pytest.raises(ConfigError, match="'not-an-ip' is not an IP address"):
        env.networks("BAD", "")
    assert env.integer("I", 1, minimum=0, maximum=10) == 7
    with pytest.raises(ConfigError, match="HIBIKI_J='x' is not a whole number"):
        env.integer("J", 1)


def test_data_dir_default_and_override(tmp_path: Path) -> None:
    assert data_dir(Env.load("", {})) == Path("var").resolve()
    assert data_dir(Env.load("", {"HIBIKI_DATA_DIR": str(tmp_path)})) == tmp_path


@given(st.text(max_size=12))
def test_port_parsing_either_succeeds_or_names_the_variable(value: str) -> None:
    env = Env.load("svc", {"HIBIKI_SVC_PORT": value})
    try:
        port = env.port("PORT", 1234)
    except ConfigError as exc:
        assert "HIBIKI_SVC_PORT" in str(exc)
    else:
        assert 0 <= port <= 65535
        assert port == (int(value.strip()) if value.strip() else 1234)


@pytest.mark.parametrize("value", ["２", "1_000", "٣", "+ 3", "--1", "0x10"])
def test_a_whole_number_is_ascii_digits(value: str) -> None:
    with pytest.raises(ConfigError, match="is not a whole number"):
        Env.load("", {"HIBIKI_I": value}).integer("I", 1)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "１.５", "1_0", "1e", "."])
def test_a_number_is_a_finite_ascii_decimal(value: str) -> None:
    with pytest.raises(ConfigError, match="is not a number"):
        Env.load("", {"HIBIKI_N": value}).number("N", 1.0)


@given(st.text(max_size=12))
def test_numbers_either_parse_finite_or_name_the_variable(value: str) -> None:
    env = Env.load("svc", {"HIBIKI_SVC_N": value, "HIBIKI_SVC_I": value})
    for read in (lambda: env.number("N", 1.5, minimum=-1e9), lambda: env.integer("I", 2)):
        try:
            number = read()
        except ConfigError as exc:
            assert "HIBIKI_SVC_" in str(exc)
        else:
            assert math.isfinite(number)
            assert not value.strip() or value.strip().isascii()
