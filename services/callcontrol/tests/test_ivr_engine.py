"""The IVR engine on its own: Ivr messages built here, keys and timeouts given by the test."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.callcontrol.ivr.engine import (
    FAILURE_SOUND,
    FALLBACK_SOUND,
    INVALID_SOUND,
    KEYS,
    MAX_MENU_VISITS,
    MAX_TRIES,
    IvrRun,
    IvrStateError,
)
from hibiki.callcontrol.ivr.instructions import (
    StartRecording,
    Collect,
    Decision,
    Enqueue,
    Fault,
    Hangup,
    Instruction,
    Play,
    PromptRef,
    Step,
    Transfer,
    format_path,
    sound,
)
from hibiki.directory.v1 import ivr_pb2

Branch = ivr_pb2.Branch


def menu(menu_id: str, choices: dict[str, Branch] | None = None, **fields: Any) -> ivr_pb2.Menu:
    return ivr_pb2.Menu(id=menu_id, name=f"{menu_id} menu", greeting=ivr_pb2.Prompt(sound=f"{menu_id}.wav"),
                        choices=choices or {}, **fields)


def ivr(*menus: ivr_pb2.Menu, root: str = "main", **fields: Any) -> ivr_pb2.Ivr:
    return ivr_pb2.Ivr(tenant="zama", id="hotline", name="Hotline", root_menu=root, menus=list(menus), **fields)


def kinds(instructions: list[Instruction]) -> list[str]:
    return [type(i).__name__ for i in instructions]


def collect(instructions: list[Instruction]) -> Collect:
    last = instructions[-1]
    assert isinstance(last, Collect), instructions
    return last


def three_levels() -> ivr_pb2.Ivr:
    return ivr(
        menu("main", {"1": Branch(menu="services"), "9": Branch(external="0312345678")}),
        menu("services", {"2": Branch(menu="detail"), "*": Branch(back=True), "0": Branch(repeat=True)}),
        menu("detail", {"3": Branch(extension="2100"), "4": Branch(ring_group="g1"), "5": Branch(voicemail="2100"),
                        "6": Branch(queue=ivr_pb2.QueueTarget(queue_id="water", priority=2, skills=["ja", "water"])),
                        "#": Branch(back=True)}),
    )


def test_the_recording_notice_comes_before_the_root_menu() -> None:
    run = IvrRun(ivr(menu("main", {"1": Branch(extension="2100")}),
                     recording_notice=ivr_pb2.Prompt(text="この通話は録音されます。")))
    turn = run.start()
    assert turn[0] == Play(PromptRef("text", "この通話は録音されます。"))
    assert turn[1] == StartRecording()          # recorded only once the caller has heard so (REC-02)
    assert turn[2] == Collect("main", sound("main.wav"), 5, frozenset({"1"}), 1, 3)
    assert len(turn) == 3


def test_three_levels_to_each_way_out() -> None:
    expected = {"3": Transfer("extension", "2100"), "4": Transfer("ring_group", "g1"),
                "5": Transfer("voicemail", "2100"), "6": Enqueue("water", 2, ("ja", "water"))}
    for key, outcome in expected.items():
        run = IvrRun(three_levels())
        assert collect(run.start()).menu_id == "main"
        assert collect(run.key("1")).menu_id == "services"
        assert collect(run.key("2")).menu_id == "detail"
        last = run.key(key)
        assert last[-1] == outcome and run.outcome == outcome and run.finished
        assert [s.digits for s in run.path] == ["1", "2", key]
        assert format_path(run.path) == f"main:1>services:2>detail:{key}"
        decision = last[0]
        assert isinstance(decision, Decision) and decision.path == tuple(run.path)
    run = IvrRun(three_levels())
    run.start()
    assert run.key("9")[-1] == Transfer("external", "0312345678")
    assert run.path == [Step("main", "main menu", "9", "external:0312345678")]


def test_back_returns_to_the_previous_menu_and_the_root_stays() -> None:
    run = IvrRun(ivr(menu("main", {"1": Branch(menu="sub"), "*": Branch(back=True)}),
                     menu("sub", {"1": Branch(menu="deep"), "*": Branch(back=True)}),
                     menu("deep", {"*": Branch(back=True)})))
    run.start()
    assert collect(run.key("*")).menu_id == "main"        # the root stays the root
    run.key("1")
    run.key("1")
    assert collect(run.key("*")).menu_id == "sub"
    assert collect(run.key("*")).menu_id == "main"
    assert [s.branch for s in run.path] == ["back", "menu:sub", "menu:deep", "back", "back"]


def test_invalid_keys_and_timeouts_are_retried_then_on_failure() -> None:
    run = IvrRun(ivr(menu("main", {"1": Branch(extension="2100")}, max_tries=3, timeout_seconds=8,
                          invalid_prompt=ivr_pb2.Prompt(prompt_id="u" + "0" * 32),
                          timeout_prompt=ivr_pb2.Prompt(sound="ivr/ivr-please_try_again.wav"),
                          on_failure=Branch(extension="100"))))
    assert collect(run.start()).timeout_seconds == 8
    turn = run.key("7")
    assert turn == [Play(PromptRef("prompt_id", "u" + "0" * 32)), Collect("main", sound("main.wav"), 8, frozenset("1"), 2, 3)]
    turn = run.timeout()
    assert turn == [Play(sound("ivr/ivr-please_try_again.wav")), Collect("main", sound("main.wav"), 8, frozenset("1"), 3, 3)]
    turn = run.timeout()
    assert kinds(turn) == ["Play", "Decision", "Transfer"]
    assert run.path == [Step("main", "main menu", "", "failure/extension:100")]
    assert turn[-1] == Transfer("extension", "100")


def test_defaults_invalid_prompt_no_timeout_prompt_failure_message() -> None:
    run = IvrRun(ivr(menu("main", {"1": Branch(extension="2100")})))
    run.start()
    assert run.key("#") == [Play(sound(INVALID_SOUND)), Collect("main", sound("main.wav"), 5, frozenset("1"), 2, 3)]
    assert run.timeout() == [Collect("main", sound("main.wav"), 5, frozenset("1"), 3, 3)]
    turn = run.key("5")
    assert turn[0] == Play(sound(INVALID_SOUND))
    assert turn[1] == Decision(Step("main", "main menu", "5", "failure/default"), tuple(run.path))
    assert turn[2:] == [Play(sound(FAILURE_SOUND)), Hangup("NORMAL_CLEARING")]


def test_repeat_counts_no_try() -> None:
    run = IvrRun(ivr(menu("main", {"0": Branch(repeat=True), "1": Branch(extension="2100")}, max_tries=2)))
    run.start()
    assert collect(run.timeout()).attempt == 2
    assert collect(run.key("0")).attempt == 2          # the same try again, not one more
    turn = run.timeout()
    assert isinstance(turn[-1], Hangup)


def test_schedule_switch_follows_the_active_branch_else_otherwise() -> None:
    def switch(active: str, otherwise: Branch | None = None) -> ivr_pb2.Ivr:
        schedule = ivr_pb2.ScheduleSwitch(schedule_id="hours", active_branch=active, branches={
            "open": Branch(menu="open"), "holiday": Branch(message=ivr_pb2.Message(prompt=ivr_pb2.Prompt(text="休日です")))})
        if otherwise is not None:
            schedule.otherwise.CopyFrom(otherwise)
        return ivr(menu("main", {"1": Branch(schedule=schedule)}, on_failure=Branch(voicemail="2100")),
                   menu("open", {"1": Branch(extension="2100")}))

    run = IvrRun(switch("open"))
    run.start()
    assert collect(run.key("1")).menu_id == "open"
    assert run.path[0].branch == "schedule:hours=open/menu:open"
    run = IvrRun(switch("holiday"))
    run.start()
    assert run.key("1")[1:] == [Play(PromptRef("text", "休日です")), Hangup("NORMAL_CLEARING")]
    run = IvrRun(switch("closed", Branch(voicemail="2100")))
    run.start()
    assert run.key("1")[-1] == Transfer("voicemail", "2100")
    assert run.path[0].branch == "schedule:hours=otherwise/voicemail:2100"
    run = IvrRun(switch("closed"))          # no otherwise: said, then the menu's on_failure
    run.start()
    turn = run.key("1")
    assert kinds(turn) == ["Decision", "Fault", "Play", "Transfer"]
    assert turn[2] == Play(sound(FALLBACK_SOUND)) and turn[-1] == Transfer("voicemail", "2100")


def test_a_missing_menu_is_said_then_on_failure() -> None:
    run = IvrRun(ivr(menu("main", {"1": Branch(menu="gone"), "2": Branch()}, on_failure=Branch(extension="100"))))
    run.start()
    turn = run.key("1")
    assert kinds(turn) == ["Decision", "Fault", "Play", "Transfer"]
    fault = turn[1]
    assert isinstance(fault, Fault) and fault.error_id == "missing-menu" and fault.menu_id == "main"
    assert turn[2] == Play(sound(FALLBACK_SOUND))
    run = IvrRun(ivr(menu("main", {"2": Branch()})))     # a choice with no target, no on_failure
    run.start()
    turn = run.key("2")
    assert kinds(turn) == ["Decision", "Fault", "Play", "Hangup"]     # said once, not twice
    assert run.faults[0].error_id == "unusable-branch"


def test_broken_on_failure_and_missing_root_hang_up_politely() -> None:
    run = IvrRun(ivr(menu("main", {"1": Branch(menu="gone")}, on_failure=Branch(menu="gone too"))))
    run.start()
    turn = run.key("1")
    assert kinds(turn) == ["Decision", "Fault", "Play", "Fault", "Play", "Hangup"]
    assert turn[-1] == Hangup("NORMAL_TEMPORARY_FAILURE")
    run = IvrRun(ivr(menu("main"), root="nowhere", recording_notice=ivr_pb2.Prompt(sound="notice.wav")))
    turn = run.start()
    assert kinds(turn) == ["Play", "StartRecording", "Fault", "Play", "Hangup"]
    assert run.finished and run.path == []


def test_unusable_targets_are_faults() -> None:
    for branch in (Branch(extension=" "), Branch(external="03 1234 5678"), Branch(ring_group="${system(id)}"),
                   Branch(queue=ivr_pb2.QueueTarget()), Branch(message=ivr_pb2.Message()), Branch(back=False)):
        run = IvrRun(ivr(menu("main", {"1": branch}, on_failure=Branch(extension="100"))))
        run.start()
        turn = run.key("1")
        assert kinds(turn) == ["Decision", "Fault", "Play", "Transfer"], branch


def test_visits_are_capped() -> None:
    run = IvrRun(ivr(menu("main", {"1": Branch(menu="other")}), menu("other", {"1": Branch(menu="main")})))
    turn = run.start()
    presses = 0
    while not run.finished:
        turn = run.key("1")
        presses += 1
    assert presses == MAX_MENU_VISITS
    assert run.faults[-1].error_id == "menu-visits-exceeded"
    assert turn[-2:] == [Play(sound(FALLBACK_SOUND)), Hangup("NORMAL_CLEARING")]


def test_settings_are_clamped_and_bad_keys_ignored() -> None:
    run = IvrRun(ivr(menu("main", {"1": Branch(extension="1"), "12": Branch(extension="2"), "a": Branch(extension="3")},
                          timeout_seconds=100000, max_tries=1000)))
    first = collect(run.start())
    assert first.timeout_seconds == 60 and first.max_tries == MAX_TRIES and first.keys == frozenset("1")


def test_inputs_out_of_turn_are_refused() -> None:
    run = IvrRun(three_levels())
    with pytest.raises(IvrStateError):
        run.key("1")
    run.start()
    with pytest.raises(IvrStateError):
        run.start()
    run.key("9")
    with pytest.raises(IvrStateError):
        run.timeout()


# ---- properties ---------------------------------------------------------------------------
MENU_IDS = ["m0", "m1", "m2", "m3", "m4"]
PROMPTS = st.one_of(st.builds(ivr_pb2.Prompt, sound=st.sampled_from(["a.wav", "b.wav"])),
                    st.builds(ivr_pb2.Prompt, text=st.sampled_from(["ようこそ", ""])),
                    st.just(ivr_pb2.Prompt()))


def leaf_branches() -> st.SearchStrategy[Branch]:
    return st.one_of(
        st.builds(Branch, menu=st.sampled_from([*MENU_IDS, "missing"])),
        st.builds(Branch, back=st.booleans()), st.builds(Branch, repeat=st.booleans()),
        st.builds(Branch, extension=st.sampled_from(["2100", "", "bad target"])),
        st.builds(Branch, ring_group=st.just("g1")), st.builds(Branch, voicemail=st.just("2100")),
        st.builds(Branch, external=st.just("0312345678")),
        st.builds(Branch, queue=st.builds(ivr_pb2.QueueTarget, queue_id=st.sampled_from(["q1", ""]))),
        st.builds(Branch, message=st.builds(ivr_pb2.Message, prompt=PROMPTS)),
        st.just(Branch()),
    )


def branches() -> st.SearchStrategy[Branch]:
    def schedule(children: st.SearchStrategy[Branch]) -> st.SearchStrategy[Branch]:
        return st.builds(
            lambda table, active, otherwise: Branch(schedule=ivr_pb2.ScheduleSwitch(
                schedule_id="s", branches=table, active_branch=active,
                **({"otherwise": otherwise} if otherwise is not None else {}))),
            st.dictionaries(st.sampled_from(["open", "closed", "holiday"]), children, max_size=3),
            st.sampled_from(["open", "closed", "holiday", "disaster", ""]), st.none() | children)
    return st.recursive(leaf_branches(), schedule, max_leaves=6)


BRANCHES = branches()
CHOICES = st.dictionaries(st.sampled_from(sorted(KEYS) + ["10", "x"]), BRANCHES, max_size=5)


@st.composite
def ivrs(draw: st.DrawFn) -> ivr_pb2.Ivr:
    count = draw(st.integers(1, len(MENU_IDS)))
    menus = []
    for menu_id in MENU_IDS[:count]:
        menus.append(ivr_pb2.Menu(
            id=menu_id, name=menu_id, greeting=draw(PROMPTS),
            choices=draw(CHOICES),
            timeout_seconds=draw(st.integers(0, 100)), max_tries=draw(st.integers(0, 12)),
            invalid_prompt=draw(PROMPTS), timeout_prompt=draw(PROMPTS),
            **({"on_failure": draw(BRANCHES)} if draw(st.booleans()) else {})))
    root = draw(st.sampled_from([m.id for m in menus] + ["missing"]))
    notice = draw(st.none() | PROMPTS)
    return ivr_pb2.Ivr(id="p", root_menu=root, menus=menus, **({"recording_notice": notice} if notice else {}))


INPUTS = st.lists(st.sampled_from([*sorted(KEYS), None, "A"]), max_size=80)
BOUND = MAX_MENU_VISITS * MAX_TRIES


@settings(max_examples=400, deadline=None)
@given(ivrs(), INPUTS)
def test_every_run_ends_within_the_bound_says_every_fault_and_records_every_decision(
        spec: ivr_pb2.Ivr, inputs: list[str | None]) -> None:
    ids = {m.id for m in spec.menus}
    run = IvrRun(spec)
    turn = run.start()
    everything: list[Instruction] = list(turn)
    decisions = 0
    steps = 0
    while not run.finished:
        steps += 1
        assert steps <= BOUND
        waiting = collect(turn)
        assert waiting.menu_id in ids                     # never a menu that does not exist
        assert 1 <= waiting.attempt <= waiting.max_tries <= MAX_TRIES
        key = inputs[steps - 1] if steps <= len(inputs) else None
        if key is not None and key in waiting.keys:
            decisions += 1
        elif waiting.attempt >= waiting.max_tries:
            decisions += 1                                # the last try fails: on_failure
        turn = run.key(key) if key is not None else run.timeout()
        everything.extend(turn)
        for instruction in turn[:-1]:                     # waiting or an end only last
            assert not isinstance(instruction, (Collect, Transfer, Enqueue, Hangup))
    assert everything[-1] == run.outcome
    for position, instruction in enumerate(everything):
        if isinstance(instruction, Fault):                # never a fault in silence
            assert everything[position + 1] == Play(sound(FALLBACK_SOUND))
    assert len(run.path) == decisions == sum(isinstance(i, Decision) for i in everything)
    assert [i.step for i in everything if isinstance(i, Decision)] == run.path
