"""bench/micro.py runs (once, untimed assertions only) and measures every case."""

from __future__ import annotations

import pytest
from bench import micro


def test_micro_benchmark_runs_every_case_once() -> None:
    result = micro.run_micro(repeat=1, rounds=1)
    cases = {(row["case"], row["dialect"]) for row in result["per_chunk"]}
    assert cases == {(case, dialect) for case in micro.CASES for dialect in micro.DIALECTS}
    for row in result["per_chunk"]:
        assert row["pipeline_us"] > 0 and row["streamed_us"] > 0
    assert set(result["text_stages_us"]) == {"decode", "parse_event", "assemble", "render"}
    assert set(result["request_cpu"]) == {"text_40_chunks_ms", "text_200_chunks_ms"}


@pytest.mark.parametrize("dialect", micro.DIALECTS)
@pytest.mark.parametrize("case", sorted(micro.CASES))
def test_pipeline_and_streamed_path_write_the_same_bytes(case: str, dialect: str) -> None:
    build, thinking = micro.CASES[case]
    frames = build(20)
    loop = micro.new_loop()
    try:
        streamed = loop.run_until_complete(micro.streamed(frames, dialect, thinking))
    finally:
        loop.close()
    assert streamed == micro.pipeline(frames, dialect, thinking)


@pytest.mark.parametrize("mode", ["pipeline", "streamed", "floor"])
def test_instruction_counting_workloads_run(mode: str) -> None:
    micro.work(f"text:anthropic:{mode}", 1)
