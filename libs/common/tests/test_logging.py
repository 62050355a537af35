from __future__ import annotations

import io
import json
import logging

from hibiki.common.logging import call_context, configure, get_logger


def test_json_lines_carry_service_tenant_and_call_uuid() -> None:
    out = io.StringIO()
    configure("callcontrol", "info", stream=out)
    log = get_logger("t")
    with call_context("shiojiri", "3c215cef-781c-4a5f-aaee-784f352769f6"):
        log.info("call_connected", destination="7100")
        logging.getLogger("some.library").warning("library line")
    log.info("outside")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["event"] == "call_connected"
    assert lines[0]["service"] == "callcontrol"
    assert lines[0]["tenant"] == "shiojiri"
    assert lines[0]["call_uuid"] == "3c215cef-781c-4a5f-aaee-784f352769f6"
    assert lines[1]["event"] == "library line" and lines[1]["call_uuid"].startswith("3c215cef")
    assert "tenant" not in lines[2] and lines[2]["service"] == "callcontrol"


def test_debug_lines_are_filtered_at_info() -> None:
    out = io.StringIO()
    configure("acd", "info", stream=out)
    get_logger().debug("hidden")
    get_logger().info("shown")
    assert [json.loads(x)["event"] for x in out.getvalue().splitlines()] == ["shown"]
