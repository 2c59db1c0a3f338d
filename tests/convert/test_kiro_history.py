from typing import Any

import pytest

from kirogate.convert.ir import (
    Document,
    Image,
    Instruction,
    Part,
    Text,
    Thinking,
    ToolCall,
    ToolResult,
    Turn,
)
from kirogate.convert.kiro_history import (
    AssistantDraft,
    Plan,
    TruncatedCall,
    UserDraft,
    omit_old_images,
    plan_turns,
)
from kirogate.errors import InvalidRequest
from kirogate.protocol.request import KiroToolResult

IMG = Image("image/png", "AAAA")


def u(*parts: Part | str) -> Turn:
    return Turn("user", tuple(Text(p) if isinstance(p, str) else p for p in parts))


def a(*parts: Part | str) -> Turn:
    return Turn("assistant", tuple(Text(p) if isinstance(p, str) else p for p in parts))


def call(tool_use_id: str, name: str = "Bash") -> ToolCall:
    return ToolCall(tool_use_id, name, {})


def result(tool_use_id: str, content: str = "ok", **kw: Any) -> ToolResult:
    return ToolResult(tool_use_id, content, **kw)


def plan(*turns: Turn, **kw: Any) -> Plan:
    return plan_turns(turns, **kw)


def roles(p: Plan) -> list[str]:
    return ["user" if isinstance(d, UserDraft) else "assistant" for d in p.history]


def assistant_at(p: Plan, index: int) -> AssistantDraft:
    draft = p.history[index]
    assert isinstance(draft, AssistantDraft)
    return draft


def user_at(p: Plan, index: int) -> UserDraft:
    draft = p.history[index]
    assert isinstance(draft, UserDraft)
    return draft


# ---------------------------------------------------------------- order


def test_last_user_turn_becomes_the_current_message() -> None:
    p = plan(u("a"), a("b"), u("c"))
    assert (roles(p), p.current.content()) == (["user", "assistant"], "c")


def test_consecutive_user_turns_are_merged_with_newlines() -> None:
    assert plan(u("a"), u("b")).current.content() == "a\nb"


def test_consecutive_assistant_turns_are_merged_with_blank_lines() -> None:
    p = plan(u("q"), a("x", call("t1")), a("y", call("t2")), u(result("t1"), result("t2")))
    assistant = assistant_at(p, 1)
    assert assistant.content() == "x\n\ny"
    assert [use.id for use in assistant.uses] == ["t1", "t2"]


def test_instruction_is_a_marked_block_merged_into_its_user_message() -> None:
    p = plan(u("a"), u(Instruction("be terse")), a("b"), u("c"))
    assert roles(p) == ["user", "assistant"]
    assert user_at(p, 0).content() == "a\n<system_instruction>\nbe terse\n</system_instruction>"


def test_instruction_between_answers_becomes_a_user_turn_of_its_own() -> None:
    p = plan(u("a"), a("b"), u(Instruction("stop")), a("c"), u("d"))
    assert roles(p) == ["user", "assistant", "user", "assistant"]
    assert "<system_instruction>\nstop\n" in user_at(p, 2).content()


def test_instruction_between_a_tool_call_and_its_result_keeps_the_pair() -> None:
    p = plan(u("a"), a(call("t1")), u(Instruction("x")), u(result("t1")))
    assert [use.id for use in assistant_at(p, 1).uses] == ["t1"]
    assert [r.tool_use_id for r in p.current.results] == ["t1"]
    assert "<system_instruction>" in p.current.content()


def test_prefill_is_kept_in_history_and_answered_with_continue() -> None:
    p = plan(u("q"), a("The answer is"))
    assert roles(p) == ["user", "assistant"]
    assert assistant_at(p, 1).content() == "The answer is"
    assert p.current.content() == "Continue"


def test_prefill_can_be_dropped() -> None:
    p = plan(u("q"), a("The answer is"), prefill="drop")
    assert (p.history, p.current.content()) == ([], "q")


def test_dropping_prefill_of_an_assistant_only_conversation_is_an_error() -> None:
    with pytest.raises(InvalidRequest):
        plan(a("x"), prefill="drop")


def test_history_starting_with_assistant_gets_a_user_turn_first() -> None:
    p = plan(a("hello"), u("hi"))
    assert roles(p) == ["user", "assistant"]
    assert user_at(p, 0).content() == "Continue"


def test_no_turns_is_an_error() -> None:
    with pytest.raises(InvalidRequest):
        plan()


# ---------------------------------------------------------------- content


def test_empty_user_text_becomes_continue() -> None:
    assert plan(u("")).current.content() == "Continue"
    assert plan(u("  ")).current.content() == "Continue"


def test_user_turn_with_only_tool_results_keeps_empty_content() -> None:
    p = plan(u("q"), a(call("t1")), u(result("t1")))
    assert p.current.content() == ""


def test_user_turn_with_only_images_keeps_empty_content() -> None:
    assert plan(u(IMG)).current.content() == ""


def test_assistant_with_only_tool_uses_gets_a_space() -> None:
    p = plan(u("q"), a(call("t1")), u(result("t1")))
    assert assistant_at(p, 1).content() == " "


def test_empty_assistant_turn_gets_ok() -> None:
    p = plan(u("q"), a(""), u("r"))
    assert assistant_at(p, 1).content() == "OK"


def test_thinking_is_rendered_before_the_text() -> None:
    p = plan(u("q"), a(Thinking("hmm", "sig"), "answer"), u("r"))
    assert assistant_at(p, 1).content() == "<thinking>hmm</thinking>\n\nanswer"


def test_thinking_without_text_is_rendered_alone() -> None:
    p = plan(u("q"), a(Thinking("hmm")), u("r"))
    assert assistant_at(p, 1).content() == "<thinking>hmm</thinking>"


def test_redacted_thinking_is_dropped() -> None:
    p = plan(u("q"), a(Thinking("", "opaque"), "answer"), u("r"))
    assert assistant_at(p, 1).content() == "answer"


def test_text_documents_are_inlined_with_their_title() -> None:
    p = plan(u(Document("text/plain", "body", "notes.txt"), Document("text/markdown", "# x")))
    assert p.current.content() == "[Document: notes.txt]\nbody\n# x"


def test_pdf_documents_are_rejected_naming_the_message() -> None:
    with pytest.raises(InvalidRequest) as caught:
        plan(u("a"), a("b"), u(Document("application/pdf", "JVBER")))
    assert caught.value.param == "messages[2].content"
    assert "application/pdf" in caught.value.message


def test_pdf_documents_in_assistant_turns_are_rejected() -> None:
    with pytest.raises(InvalidRequest):
        plan(u("a"), a(Document("application/pdf", "JVBER")), u("c"))


def test_text_documents_in_assistant_turns_are_inlined() -> None:
    p = plan(u("a"), a(Document("text/plain", "doc")), u("c"))
    assert assistant_at(p, 1).content() == "doc"


def test_tool_call_in_a_user_turn_becomes_text() -> None:
    p = plan(u(ToolCall("t1", "Bash", {"a": 1})))
    assert p.current.content() == '[Tool call Bash (t1)]\n{"a": 1}'


def test_tool_result_in_an_assistant_turn_becomes_text() -> None:
    p = plan(u("q"), a(result("t1", "out")), u("r"))
    assert assistant_at(p, 1).content() == "[Tool result (t1)]\nout"


def test_images_in_assistant_turns_are_dropped() -> None:
    p = plan(u("q"), a(IMG, "x"), u("r"))
    assert assistant_at(p, 1).content() == "x"


def test_thinking_in_user_turns_is_dropped() -> None:
    assert plan(u(Thinking("x"), "q")).current.content() == "q"


def test_images_keep_the_message_they_came_from() -> None:
    p = plan(u("a"), a("b"), u(IMG))
    assert [(ref.image, ref.param) for ref in p.current.images] == [(IMG, "messages[2].content")]


# ---------------------------------------------------------------- tool results


def test_tool_results_become_kiro_tool_results() -> None:
    p = plan(u("q"), a(call("t1")), u(result("t1", "done")))
    assert p.current.results == [KiroToolResult("t1", "done", "success")]


def test_error_tool_results_have_error_status() -> None:
    p = plan(u("q"), a(call("t1")), u(result("t1", "boom", is_error=True)))
    assert p.current.results == [KiroToolResult("t1", "boom", "error")]


def test_empty_tool_result_gets_placeholder_text() -> None:
    p = plan(u("q"), a(call("t1")), u(result("t1", "")))
    assert p.current.results[0].text == "(empty result)"


def test_tool_result_images_move_to_the_user_message() -> None:
    p = plan(u("q"), a(call("t1")), u(result("t1", "see", images=(IMG,))))
    assert [ref.image for ref in p.current.images] == [IMG]


def test_user_text_next_to_tool_results_is_kept() -> None:
    p = plan(u("q"), a(call("t1")), u(result("t1"), "and now?"))
    assert (p.current.content(), len(p.current.results)) == ("and now?", 1)


def test_orphan_tool_result_becomes_text() -> None:
    p = plan(u("q"), a("no tools"), u(result("ghost", "late"), "hi"))
    assert p.current.results == []
    assert p.current.content() == "[Tool result for ghost]\nlate\nhi"
    assert p.notes


def test_orphan_error_tool_result_is_marked_in_text() -> None:
    p = plan(u(result("ghost", "bad", is_error=True)))
    assert p.current.content() == "[Tool result for ghost (error)]\nbad"


def test_unanswered_tool_use_is_removed_from_history() -> None:
    p = plan(u("q"), a("let me", call("t1"), call("t2")), u(result("t2")))
    assert [use.id for use in assistant_at(p, 1).uses] == ["t2"]


def test_tool_results_must_answer_the_immediately_preceding_turn() -> None:
    p = plan(u("q"), a(call("t1")), u("interrupt"), a("ok"), u(result("t1")))
    assert assistant_at(p, 1).uses == []
    assert p.current.results == []


def test_duplicate_tool_use_ids_are_dropped() -> None:
    p = plan(u("q"), a(call("t1"), call("t1")), u(result("t1")))
    assert [use.id for use in assistant_at(p, 1).uses] == ["t1"]


def test_tool_use_id_reused_in_a_later_turn_is_dropped() -> None:
    p = plan(u("q"), a(call("t1")), u(result("t1")), a(call("t1")), u(result("t1")))
    assert assistant_at(p, 3).uses == []
    assert p.current.results == []


def test_tool_use_without_id_is_dropped() -> None:
    p = plan(u("q"), a(call("")), u(result("")))
    assert assistant_at(p, 1).uses == []


def test_duplicate_tool_results_are_dropped() -> None:
    p = plan(u("q"), a(call("t1")), u(result("t1", "first"), result("t1", "second")))
    assert [r.text for r in p.current.results] == ["first"]


def test_tool_results_follow_the_order_of_the_tool_uses() -> None:
    p = plan(u("q"), a(call("t1"), call("t2")), u(result("t2"), result("t1")))
    assert [r.tool_use_id for r in p.current.results] == ["t1", "t2"]


def test_dropped_tool_names_vanish_and_their_results_become_text() -> None:
    p = plan(
        u("q"),
        a(call("s1", "WEB_SEARCH"), call("t1")),
        u(result("s1", "found"), result("t1")),
        drop_tools={"web_search"},
    )
    assert [use.id for use in assistant_at(p, 1).uses] == ["t1"]
    assert p.current.content() == "[Tool result for s1]\nfound"


def test_prefill_with_tool_uses_loses_the_unanswered_uses() -> None:
    p = plan(u("q"), a("calling", call("t1")))
    assert assistant_at(p, 1).uses == []


# ---------------------------------------------------------------- truncation recovery


def test_result_of_a_small_truncated_call_asks_for_a_retry() -> None:
    p = plan(
        u("q"), a(call("t1")), u(result("t1", "Write failed")), truncated={"t1": TruncatedCall(300)}
    )
    notice = p.current.results[0]
    assert notice.status == "error"
    assert notice.text.startswith("[Upstream Glitch]")


def test_result_of_a_large_truncated_call_asks_to_split_the_work() -> None:
    truncated = {"t1": TruncatedCall(40_000, "unclosed string")}
    p = plan(u("q"), a(call("t1")), u(result("t1", "Write failed")), truncated=truncated)
    text = p.current.results[0].text
    assert text.startswith("[API Limitation]")
    assert "40000 bytes; unclosed string" in text


# ---------------------------------------------------------------- old images


def test_images_in_older_user_turns_are_replaced_by_a_note() -> None:
    p = plan(u(IMG, "one"), a("x"), u(IMG, IMG, "two"), a("y"), u(IMG, "three"))
    omitted = omit_old_images(p.history, p.current, keep_turns=2)
    assert omitted == 1
    assert user_at(p, 0).content() == "one\n[image omitted from earlier turn]"
    assert user_at(p, 0).images == []
    assert len(user_at(p, 2).images) == 2
    assert len(p.current.images) == 1


def test_several_omitted_images_are_counted_in_one_note() -> None:
    p = plan(u(IMG, IMG), a("x"), u("now"))
    omit_old_images(p.history, p.current, keep_turns=1)
    assert user_at(p, 0).content() == "[2 images omitted from earlier turn]"


def test_keeping_zero_image_turns_omits_every_image() -> None:
    p = plan(u(IMG, "now"))
    assert omit_old_images(p.history, p.current, keep_turns=0) == 1
    assert p.current.images == []
