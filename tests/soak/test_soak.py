"""The soak (benchmarks/soak) at a small scale, so its own logic — and the invariants it guards — run in CI.

A few hundred requests with faults, one worker SIGKILLed and one SIGTERMed, every job awaited: the same
code path as `make soak`, only shorter (about 20 s).
"""

from __future__ import annotations

from benchmarks.soak import SoakConfig, render, run_soak


def test_a_short_soak_loses_nothing_and_answers_every_error_in_openai_shape(tmp_path):
    config = SoakConfig(requests=360, duration=20, rate=40, warmup=40, concurrency=8, fault_rate=0.15,
                        job_drain_timeout=40, out_dir=tmp_path)
    report = run_soak(config, say=lambda line: None)
    summary = render(report)

    requests, jobs = report.requests, report.jobs
    assert requests.sent == config.warmup + config.requests, summary
    assert all(count == 0 for count in requests.violations.values()), summary
    assert requests.by_status.get("200", 0) > 0 and sum(report.faults_injected.values()) > 0, summary
    assert jobs.accepted > 0 and jobs.completed > 0, summary
    assert (jobs.missing, jobs.stuck, jobs.results_bad) == (0, 0, 0), summary
    assert [event.action for event in report.workers] == ["sigkill", "sigterm"], summary
    assert report.logs.secrets_in_logs == 0, summary
    assert report.ok, summary
    assert (tmp_path / "report.json").exists()
