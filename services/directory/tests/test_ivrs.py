"""IVR definitions: validation, schedule switches decided for a moment, and the test mode's paths."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.directory import ivrs
from hibiki.directory.errors import Invalid
from hibiki.directory.schedules import Schedule
from hibiki.directory.v1 import ivr_pb2

TOKYO = ZoneInfo("Asia/Tokyo")
OFFICE = Schedule.from_dict({"weekly": {d: [{"start": "08:30", "end": "17:15"}] for d in ("mon", "tue", "wed", "thu", "fri")},
                             "seasons": [{"name": "busy", "start": "03-01", "end": "04-30",
                                          "weekly": {d: [{"start": "08:00", "end": "19:00"}]
                                                     for d in ("mon", "tue", "wed", "thu", "fri")}}]})

CITY_HALL = {
    "id": "main", "name": "市役所代表", "root_menu": "top",
    "recording_notice": {"text": "この通話は録音されます。"},
    "menus": [
        {"id": "top", "name": "トップ", "greeting": {"text": "お電話ありがとうございます。"},
         "choices": {
             "1": {"menu": "water"},
             "2": {"schedule": {"schedule_id": "office", "branches": {"open": {"ring_group": "kosekika"},
                                                                      "holiday": {"message": {"prompt": {"sound": "ivr/closed.wav"}}}},
                                "otherwise": {"voicemail": "2000"}}},
             "9": {"repeat": True}},
         "on_failure": {"extension": "1000"}},
        {"id": "water", "name": "水道", "greeting": {"text": "水道のご用件です。"},
         "choices": {"1": {"menu": "leak"}, "2": {"queue": {"queue_id": "water", "priority": 2, "skills": ["billing"]}},
                     "0": {"back": True}}},
        {"id": "leak", "name": "漏水", "greeting": {"sound": "ivr/leak.wav"},
         "choices": {"1": {"external": "0258123456"}, "0": {"back": True}}, "timeout_seconds": 8, "max_tries": 2},
    ],
}


def test_a_three_level_ivr_parses_validates_and_round_trips() -> None:
    ivr = ivrs.parse(CITY_HALL)
    ivrs.validate(ivr, lambda sid: sid == "office")
    again = ivrs.parse(ivrs.to_json(ivr))
    assert again == ivr
    assert again.menus[1].choices["2"].queue.skills == ["billing"]


@pytest.mark.parametrize("change,field", [
    (lambda d: d.update(root_menu="nowhere"), "root_menu"),
    (lambda d: d["menus"][0]["choices"].update({"1": {"menu": "gone"}}), "menus[0].choices[1].menu"),
    (lambda d: d["menus"][0]["choices"].update({"11": {"menu": "water"}}), "menus[0].choices"),
    (lambda d: d["menus"][1].update(id="top"), "menus[1].id"),
    (lambda d: d["menus"][0].pop("greeting"), "menus[0].greeting"),
    (lambda d: d["menus"][2]["choices"].update({"1": {"external": "03-1234"}}), "menus[2].choices[1].external"),
    (lambda d: d["menus"][2].update(greeting={"sound": "../../etc/passwd"}), "menus[2].greeting.sound"),
    (lambda d: d["menus"][0]["choices"]["2"]["schedule"].pop("otherwise"), "menus[0].choices[2].schedule.otherwise"),
    (lambda d: d["menus"][0]["choices"]["2"]["schedule"].update(schedule_id="nope"),
     "menus[0].choices[2].schedule.schedule_id"),
    (lambda d: d["menus"][0].update(timeout_seconds=600), "menus[0].timeout_seconds"),
    (lambda d: d["menus"][1].update(on_failure={"repeat": True}), "menus[1].on_failure"),
])
def test_bad_definitions_name_the_field(change, field: str) -> None:  # type: ignore[no-untyped-def]
    import copy

    data = copy.deepcopy(CITY_HALL)
    change(data)
    with pytest.raises(Invalid) as caught:
        ivrs.validate(ivrs.parse(data), lambda sid: sid == "office")
    assert caught.value.field == field
    assert caught.value.error_id == "invalid-ivr"


def test_unknown_json_fields_are_refused() -> None:
    with pytest.raises(Invalid, match="body"):
        ivrs.parse({**CITY_HALL, "colour": "red"})
    with pytest.raises(Invalid):
        ivrs.parse(["not", "an", "object"])


@pytest.mark.parametrize("moment,branch", [
    (datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO), "open"),           # a Tuesday morning
    (datetime(2026, 11, 23, 10, 0, tzinfo=TOKYO), "holiday"),        # 勤労感謝の日
    (datetime(2027, 1, 2, 10, 0, tzinfo=TOKYO), "new_year"),
    (datetime(2027, 3, 15, 18, 30, tzinfo=TOKYO), "season:busy"),    # busy season hours until 19:00
    (datetime(2026, 11, 24, 18, 30, tzinfo=TOKYO), "closed"),
])
def test_schedule_switches_are_decided_for_the_moment(moment: datetime, branch: str) -> None:
    ivr = ivrs.resolve(ivrs.parse(CITY_HALL), {"office": OFFICE}.get, moment)
    switch = ivr.menus[0].choices["2"].schedule
    assert switch.active_branch == branch
    expected = {"open": "ring_group", "holiday": "message"}.get(branch, "voicemail")
    assert ivrs.follow(switch, branch).WhichOneof("target") == expected


def test_paths_list_every_end_with_keys_and_moments() -> None:
    start = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)
    found = {(p.keys, p.end): p for p in ivrs.paths(ivrs.parse(CITY_HALL), {"office": OFFICE}, start)}
    assert ("1", "2") in {k for k, _ in found} and found[(("1", "2"), "queue:water")].menus == ("top", "water")
    assert found[(("1", "1", "1"), "external:0258123456")].menus == ("top", "water", "leak")
    assert found[(("",), "extension:1000")].menus == ("top",)
    ends_of_2 = {p.end: p for p in found.values() if p.keys == ("2",)}
    assert set(ends_of_2) == {"ring_group:kosekika", "message", "voicemail:2000"}
    holiday = ends_of_2["message"]
    assert OFFICE.state(holiday.at).branch == "holiday" and holiday.at >= start
    assert OFFICE.state(ends_of_2["ring_group:kosekika"].at).branch == "open"
    # back from level 3 reaches level 2 again, whose other ends are listed once more with those keys
    assert (("1", "1", "0", "2"), "queue:water") not in found   # water was visited on that path: not followed again


# ---- properties over random IVRs ----------------------------------------------------------

LEAVES = st.one_of(
    st.builds(lambda e: {"extension": e}, st.from_regex(r"[1-9][0-9]{3}", fullmatch=True)),
    st.builds(lambda q: {"queue": {"queue_id": q}}, st.sampled_from(["water", "tax", "care"])),
    st.just({"message": {"prompt": {"sound": "ivr/bye.wav"}}}),
    st.just({"repeat": True}), st.just({"back": True}),
)


@st.composite
def random_ivrs(draw: st.DrawFn) -> dict:  # type: ignore[type-arg]
    n = draw(st.integers(1, 6))
    ids = [f"m{i}" for i in range(n)]
    branch = st.one_of(LEAVES, st.builds(lambda m: {"menu": m}, st.sampled_from(ids)),
                       st.builds(lambda a, b: {"schedule": {"schedule_id": "office", "branches": {"open": a},
                                                            "otherwise": b}}, LEAVES, LEAVES))
    menus = []
    for menu_id in ids:
        keys = draw(st.lists(st.sampled_from(sorted(ivrs.KEYS)), max_size=5, unique=True))
        menu = {"id": menu_id, "greeting": {"sound": f"ivr/{menu_id}.wav"}, "choices": {k: draw(branch) for k in keys}}
        if draw(st.booleans()):
            menu["on_failure"] = draw(LEAVES.filter(lambda b: "repeat" not in b and "back" not in b))
        menus.append(menu)
    return {"id": "r", "root_menu": "m0", "menus": menus}


def walk(ivr: ivr_pb2.Ivr, keys: tuple[str, ...], branches: dict[str, str]) -> str:
    """Where these keys lead, the way callcontrol follows a definition (first visit of each menu)."""
    menus = {m.id: m for m in ivr.menus}
    stack = [ivr.root_menu]
    for key in keys:
        menu = menus[stack[-1]]
        branch = menu.choices[key] if key else menu.on_failure
        while branch.WhichOneof("target") == "schedule":
            branch = ivrs.follow(branch.schedule, branches.get(branch.schedule.schedule_id, ""))
        kind = branch.WhichOneof("target")
        if kind == "menu":
            stack.append(branch.menu)
        elif kind == "back":
            stack.pop()
        elif kind is None:
            return "hangup" if key else "message"
        else:
            return ivrs._end(branch)
    raise AssertionError(f"{keys} end inside a menu")


@settings(max_examples=150, deadline=None)
@given(random_ivrs())
def test_every_listed_path_leads_where_it_says(data: dict) -> None:  # type: ignore[type-arg]
    ivr = ivrs.parse(data)
    ivrs.validate(ivr)
    start = datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO)
    listed = ivrs.paths(ivr, {"office": OFFICE}, start)
    assert listed, "every IVR has at least one end (the root's timeout)"
    for path in listed:
        assert walk(ivr, path.keys, path.schedule_branches) == path.end, path
        assert path.menus[0] == "m0" and path.at >= start
        for sid, branch in path.schedule_branches.items():
            if branch:
                assert OFFICE.state(path.at).branch == branch
