"""bench/abuse.py's pure logic: classifying answers, climbing ladders, summaries (no timing)."""

from __future__ import annotations

import json
import uuid

from bench.abuse import (
    GOAL_MB,
    BenchSetup,
    Outcome,
    attack_summary,
    class_summary,
    classify,
    compare_table,
    comparisons,
    largest_accepted,
    probes,
    refusals,
    skip_reason,
)

SETUP = BenchSetup(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), long_notes=10)


def _body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_an_answer_without_errors_is_accepted() -> None:
    assert classify(200, _body({"data": {"tasks": {"totalCount": 3}}})) == ("accepted", [], None)


def test_errors_without_data_are_a_refusal_with_their_codes() -> None:
    body = _body(
        {
            "data": None,
            "errors": [
                {"message": "too costly", "extensions": {"code": "COST_LIMIT"}},
                {"message": "and bad", "extensions": {"code": "BAD_USER_INPUT"}},
            ],
        }
    )
    assert classify(200, body) == ("refused", ["BAD_USER_INPUT", "COST_LIMIT"], "too costly")


def test_an_error_without_a_code_is_reported_as_such() -> None:
    body = _body({"errors": [{"message": "maximum recursion depth exceeded"}]})
    assert classify(200, body) == ("refused", ["no code"], "maximum recursion depth exceeded")


def test_data_that_is_all_null_is_a_refusal_and_other_data_is_partial() -> None:
    error = [{"message": "x", "extensions": {"code": "COST_LIMIT"}}]
    assert classify(200, _body({"data": {"a0": None}, "errors": error}))[0] == "refused"
    partial = classify(200, _body({"data": {"a0": None, "a1": [1]}, "errors": error}))
    assert partial == ("partial", ["COST_LIMIT"], "x")
    # A refused argument under a nullable field leaves the rest of the data.
    nested = {"task": {"id": "1", "recurrence": None}}
    assert classify(200, _body({"data": nested, "errors": error}))[0] == "partial"


def test_a_body_that_is_not_json_is_a_failure_with_its_status() -> None:
    status, codes, message = classify(500, b"Internal Server Error")
    assert (status, codes, message) == ("failed", ["HTTP 500"], "Internal Server Error")
    assert classify(413, _body({"errors": [{"message": "too big"}]}))[:2] == (
        "refused",
        ["no code"],
    )


def test_the_ladder_climbs_while_the_prediction_stays_under_the_timeout() -> None:
    done = [Outcome(1, "accepted", wall_ms=2000.0)]
    assert skip_reason([], 1, timeout_s=30) is None
    assert skip_reason(done, 10, timeout_s=30) is None  # about 20 s
    reason = skip_reason(done, 30, timeout_s=30)  # about 60 s
    assert reason is not None and "60 s" in reason


def test_a_refusal_is_cheap_so_the_ladder_goes_on() -> None:
    done = [Outcome(20, "accepted", wall_ms=100.0), Outcome(21, "refused", wall_ms=5.0)]
    assert skip_reason(done, 10_000, timeout_s=30) is None


def test_nothing_larger_is_sent_after_a_timeout_or_the_memory_guard() -> None:
    for status in ("timed out", "exceeded"):
        done = [Outcome(1, "accepted", wall_ms=1.0), Outcome(5, status, wall_ms=30_000.0)]
        reason = skip_reason(done, 10, timeout_s=30)
        assert reason is not None and status in reason


def test_skipped_and_failed_sizes_do_not_predict() -> None:
    done = [Outcome(1, "accepted", wall_ms=1000.0), Outcome(2, "skipped"), Outcome(3, "failed")]
    assert skip_reason(done, 20, timeout_s=30) is None
    assert skip_reason(done, 40, timeout_s=30) is not None


def test_the_largest_accepted_size_is_the_largest_without_errors() -> None:
    runs = [
        Outcome(1, "accepted", wall_ms=900.0),
        Outcome(5, "accepted", wall_ms=400.0),
        Outcome(10, "refused", codes=["BAD_USER_INPUT"], wall_ms=3.0),
        Outcome(11, "partial", codes=["BAD_USER_INPUT"], wall_ms=3.0),
        Outcome(50, "skipped", note="not sent"),
    ]
    best = largest_accepted(runs)
    assert best is not None and best.size == 5
    assert largest_accepted([Outcome(1, "refused")]) is None
    assert [r["size"] for r in refusals(runs)] == [10, 11]
    assert refusals(runs)[0] == {
        "size": 10,
        "status": "refused",
        "codes": ["BAD_USER_INPUT"],
        "message": None,
    }


def test_a_class_is_judged_by_its_most_expensive_accepted_request() -> None:
    fast = [Outcome(30, "accepted", wall_ms=200.0, postgres_peak_rss_mb=40.0)]
    slow = [
        Outcome(1, "accepted", wall_ms=1500.0, postgres_peak_rss_mb=60.0),
        Outcome(2, "accepted", wall_ms=1400.0),
        Outcome(3, "timed out", wall_ms=30_000.0),
    ]
    summary = class_summary({"fast": fast, "slow": slow})
    worst = summary["most_expensive_accepted"]
    assert (worst["probe"], worst["size"], worst["wall_ms"]) == ("slow", 1, 1500.0)
    assert summary["peak_postgres_rss_mb"] == 60.0
    assert summary["within_goals"] is False
    assert class_summary({"fast": fast})["within_goals"] is True


def test_memory_over_the_goal_or_the_guard_fails_the_class() -> None:
    heavy = [Outcome(1, "accepted", wall_ms=10.0, postgres_peak_rss_mb=GOAL_MB + 1)]
    assert class_summary({"heavy": heavy})["within_goals"] is False
    guarded = [Outcome(1, "accepted", wall_ms=10.0), Outcome(5, "exceeded", wall_ms=900.0)]
    assert class_summary({"guarded": guarded})["within_goals"] is False


def test_a_partial_answer_counts_for_the_cost() -> None:
    runs = [
        Outcome(1, "accepted", wall_ms=100.0),
        Outcome(2, "partial", codes=["TIMEOUT"], wall_ms=4000.0, postgres_peak_rss_mb=300.0),
    ]
    summary = class_summary({"p": runs})
    assert summary["most_expensive_accepted"]["size"] == 2
    assert summary["peak_postgres_rss_mb"] == 300.0 and summary["within_goals"] is False


def test_a_request_cut_off_by_the_statement_timeout_is_costed_not_refused() -> None:
    timeout = [{"message": "took too long", "extensions": {"code": "TIMEOUT"}}]
    status, codes, _ = classify(200, _body({"data": {"tasks": None}, "errors": timeout}))
    assert (status, codes) == ("cut off", ["TIMEOUT"])
    runs = [Outcome(1, "accepted", wall_ms=200.0), Outcome(5, status, codes, wall_ms=3000.0)]
    summary = class_summary({"counts": runs})
    worst = summary["most_expensive_accepted"]
    assert (worst["size"], worst["status"]) == (5, "cut off")
    assert summary["within_goals"] is False
    # The ladder goes on predicting from it as from any answered size.
    assert skip_reason(runs, 100, timeout_s=30) is not None


def test_a_class_with_nothing_accepted_has_no_worst_request() -> None:
    summary = class_summary({"refused": [Outcome(1, "refused", codes=["COST_LIMIT"])]})
    assert summary == {
        "most_expensive_accepted": None,
        "peak_postgres_rss_mb": None,
        "within_goals": True,
    }


def test_the_attack_ratio_is_the_p99_under_attack_over_the_quiet_p99() -> None:
    quiet = [float(n) for n in range(1, 101)]
    summary = attack_summary(quiet, [2 * v for v in quiet])
    assert (summary["quiet"]["p99_ms"], summary["under_attack"]["p99_ms"]) == (99.0, 198.0)
    assert summary["p99_ratio"] == 2.0 and summary["within_goal"] is True
    worse = attack_summary(quiet, [3 * v for v in quiet])
    assert worse["p99_ratio"] == 3.0 and worse["within_goal"] is False
    assert attack_summary([], quiet)["within_goal"] is False


def test_the_alltags_ladder_never_passes_its_cap() -> None:
    for cap in (100, 20):
        (probe,) = [p for p in probes(cap) if "allTags" in p.name]
        assert max(probe.sizes) <= cap
        for size in probe.sizes:
            _, variables = probe.build(size, SETUP)
            assert len(variables["t"]) == size <= cap


def test_every_probe_builds_a_document_of_its_size() -> None:
    every = probes(100)
    assert {p.klass for p in every} == {"aliases", "lists", "recurrence", "search", "nesting"}
    for probe in every:
        assert list(probe.sizes) == sorted(probe.sizes)
        query, _ = probe.build(probe.sizes[-1], SETUP)
        assert query.count("{") == query.count("}")
        if probe.klass == "aliases":
            assert query.count(": ") >= probe.sizes[-1]
            assert f"a{probe.sizes[-1] - 1}:" in query
    (stored,) = [p for p in every if p.name.startswith("upcoming(limit N)")]
    assert str(SETUP.recurring_task) in stored.build(1, SETUP)[0]


def test_report_rows_judge_each_class_and_the_attack() -> None:
    classes = {
        "lists": {
            "summary": class_summary(
                {"allTags": [Outcome(50, "accepted", wall_ms=5800.0, postgres_peak_rss_mb=279.0)]}
            )
        },
        "nesting": {"summary": class_summary({"deep": [Outcome(900, "refused")]})},
    }
    attack = attack_summary([10.0] * 10, [15.0] * 10)
    deployed = attack_summary([10.0] * 10, [25.0] * 10)
    rows = comparisons(classes, attack, deployed)
    by_figure = {row["figure"]: row for row in rows}
    time_row = by_figure["lists: most expensive accepted request (allTags, size 50): server time"]
    assert (time_row["value"], time_row["met"]) == (5800.0, False)
    memory_row = by_figure["lists: peak PostgreSQL backend RSS of any accepted request"]
    assert memory_row["met"] is False
    nothing = by_figure["nesting: most expensive accepted request (none accepted): server time"]
    assert nothing["met"] is True
    assert rows[-2]["ratio"] == 1.5 and rows[-2]["met"] is True
    assert "as deployed" in rows[-1]["figure"]
    assert rows[-1]["ratio"] == 2.5 and rows[-1]["met"] is False


def test_the_before_after_table_has_a_row_per_class_and_the_p99() -> None:
    slow = [
        Outcome(100, "accepted", wall_ms=19_400.0, gateway_cpu_ms=200.0, postgres_cpu_ms=4900.0)
    ]
    slow[0].postgres_peak_rss_mb = 1042.0
    before = {
        "classes": {"lists": {"summary": class_summary({"allTags": slow})}},
        "attack": {
            **attack_summary([100.0] * 10, [30_000.0] * 10),
            "failed_reads": {"under_attack": 10},
        },
    }
    after = {
        "classes": {
            "lists": {"summary": class_summary({"allTags": [Outcome(21, "refused")]})},
            "nesting": {"summary": class_summary({"deep": [Outcome(1, "accepted", wall_ms=5.0)]})},
        },
        "attack": {**attack_summary([100.0] * 10, [150.0] * 10), "failed_reads": {}},
    }
    rows = compare_table(before, after)
    assert rows[2] == (
        "| lists | allTags, size 100: 19.4 s (CPU 0.2 + 4.9 s), 1042 MB; **over the goals** "
        "| nothing accepted (within the goals) |"
    )
    assert rows[3].startswith("| nesting | not measured | deep, size 1: 0.0 s")
    assert rows[4] == (
        "| ordinary `tasks(first: 50)` p99 | 100 ms quiet, ≥ 30000 ms under attack "
        "(≥ 300.0x; **over the goal**) "
        "| 100 ms quiet, 150 ms under attack (1.5x; within the goal) |"
    )
