"""`python -m benchmarks.observability`: what metrics and tracing cost TTS throughput at concurrency 32.

Three gateways (`audio-gateway serve`, one process each, the same fake OpenAI provider behind them):

- **bare**: `AUDIO_GATEWAY_METRICS=off`, no `OTEL_*`: no observing middleware, no routing observer;
- **observed**: metrics on, tracing configured off (no OTLP endpoint), the default deployment;
- **otlp**: metrics on and every span exported over OTLP/HTTP to a loopback receiver (this process);
- **otlp-10%**: the same with `OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`.

wrk drives each in turn, in rounds whose order rotates (the machine's drift is spread over all of them),
and the median req/s per gateway is compared. Target (issue 14): observed costs at most 3 % of bare.
On a shared machine req/s swings with whatever else runs, so each run also reads the gateway process's
CPU time (/proc, user + system) and reports CPU microseconds per request: a one-process gateway at c32 is
CPU-bound, so that ratio is the throughput cost with less of the machine's noise; the best (least
disturbed) run of each is compared too. Last, the metrics work one TTS request does (in-flight gauge,
one attempt, its ledger row) is timed in this process, without any server: its microseconds over the
bare gateway's CPU per request is the cost with no noise at all. `--instructions N` adds the whole
gateway's instructions per request under valgrind's callgrind (bare and observed, N requests at c32 after
a warm-up, counters zeroed in between): exact and repeatable, though it weighs the metrics code's
cache-friendly instructions the same as the rest's slower ones, so it bounds the time cost from above.
The figures are printed, and written to benchmarks/out/observability.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
import msgspec
from tests.support.otlp import OtlpReceiver

from . import callgrind, payloads
from .gateway_proc import GATEWAY_KEY
from .load import run_wrk
from .procs import Service, free_port
from .system import ensure_wrk, machine

REPO = Path(__file__).resolve().parent.parent
TARGET_PERCENT = 3.0
_DROP = ("AUDIO_GATEWAY_", "OPENAI_", "SILICONFLOW_", "AWS_", "OTEL_", "PROMETHEUS_")


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.observability", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5, help="measured seconds per run (default 5; +1 s warm-up)")
    p.add_argument("--rounds", type=int, default=5, help="runs per gateway, interleaved (default 5)")
    p.add_argument("--instructions", type=int, default=0, metavar="N",
                   help="also count instructions per request under callgrind over N requests (a few minutes)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    return p.parse_args(argv)


def _gateway(name: str, upstream: str, work: Path, extra: dict[str, str], wrapper: tuple[str, ...] = ()) -> Service:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env.update(OPENAI_BASE_URL=upstream, OPENAI_API_KEY="sk-fake-provider", SILICONFLOW_API_KEY="",
               AUDIO_GATEWAY_API_KEYS=f"bench:{GATEWAY_KEY}", AUDIO_GATEWAY_ADMIN_KEYS="ops:sk-bench-admin",
               AUDIO_GATEWAY_CATALOG=str(REPO / "catalog"), **extra)
    port = free_port()
    service = Service(name, [*wrapper, sys.executable, "-m", "audio_gateway.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], port=port, log=work / f"observability-{name}.log", env=env, cwd=REPO)
    service.wait_ready("/healthz", timeout=600 if wrapper else 60)
    return service


def _instructions_per_request(name: str, extra: dict[str, str], upstream: str, work: Path, requests: int) -> int:
    """The gateway under callgrind: warm up, zero the counters, `requests` TTS requests at c32, dump."""
    out = work / f"callgrind-{name}.out"
    service = _gateway(f"callgrind-{name}", upstream, work, extra, wrapper=callgrind.wrapper(out))
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": "application/json"}
    try:
        return callgrind.instructions_per_request(service, out, {name: headers}, requests=requests)[name]
    finally:
        service.stop()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def _metrics_work_us(repeats: int = 5, number: int = 20_000) -> float:
    """Microseconds of metrics work per TTS request, as the gateway does it (best of `repeats`)."""
    import timeit
    from datetime import UTC, datetime
    from decimal import Decimal

    from audio_gateway.catalog import load_catalog
    from audio_gateway.ledger import LedgerLine, LedgerRow
    from audio_gateway.ledger.model import LedgerAttempt
    from audio_gateway.observability.metrics import Metrics
    from audio_gateway.providers import ADAPTERS
    from audio_gateway.routing import Attempt, Outcome

    plan = load_catalog(REPO / "catalog", {}, ADAPTERS.keys()).plan
    target = plan.routes["openai/tts-1"].targets[0]
    metrics = Metrics()
    attempt = Attempt("openai", "openai/tts-1", Outcome.OK)
    row = LedgerRow(
        id="req_1", created_at=datetime.now(UTC), api_key_id="bench", endpoint="audio.speech", kind="tts",
        model_requested="tts-1", model_served="openai/tts-1", provider="openai", upstream_model="tts-1", attempts=1,
        fell_back=False, attempt_outcomes=(LedgerAttempt(provider="openai", model="openai/tts-1", outcome="ok"),),
        status="completed", http_status=200, cost_usd=Decimal("0.00165"), latency_ms=12.5, ttfb_ms=3.2,
        lines=(LedgerLine(unit="character", quantity=Decimal(110), price_usd=Decimal(15), per=1_000_000,
                          cost_usd=Decimal("0.00165")),))

    def request() -> None:
        metrics.inflight.inc()
        metrics.begin(target, target)(attempt)
        metrics.observe_row(row, plan)
        metrics.inflight.dec()

    return min(timeit.repeat(request, number=number, repeat=repeats)) / number * 1e6


def _served(service: Service) -> float:
    """Requests the gateway counted (its own /metrics), or 0 where metrics are off."""
    response = httpx.get(f"{service.url}/metrics", headers={"Authorization": "Bearer sk-bench-admin"}, timeout=10)
    if response.status_code != 200:
        return 0.0
    from prometheus_client.parser import text_string_to_metric_families

    return sum(s.value for f in text_string_to_metric_families(response.text) for s in f.samples
               if s.name == "audio_gateway_requests_total")


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    body = work / "observability-tts.body"
    body.write_bytes(payloads.SPEECH_JSON)
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": "application/json"}
    receiver = OtlpReceiver(keep=False)
    fake_port = free_port()
    variants = {
        "bare": {"AUDIO_GATEWAY_METRICS": "off"},
        "observed": {},
        "otlp": {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "audio-gateway-bench"},
        "otlp-10%": {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "audio-gateway-bench",
                     "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    }
    rps: dict[str, list[float]] = {name: [] for name in variants}
    cpu_us: dict[str, list[float]] = {name: [] for name in variants}
    requests: dict[str, int] = dict.fromkeys(variants, 0)
    errors = 0
    started = time.monotonic()
    with Service("fake", [sys.executable, "-m", "benchmarks.fake_provider", "--port", str(fake_port)],
                 port=fake_port, log=work / "observability-fake.log", cwd=REPO) as fake:
        fake.wait_ready("/healthz", timeout=30)
        gateways = {name: _gateway(name, fake.url + "/v1", work, extra) for name, extra in variants.items()}
        try:
            order = list(variants)
            for round_ in range(args.rounds):
                shift = round_ % len(order)
                for name in order[shift:] + order[:shift]:
                    print(f"benchmark: round {round_ + 1}/{args.rounds} {name} tts c32...", file=sys.stderr, flush=True)
                    url = gateways[name].url + "/v1/audio/speech"
                    run_wrk(url, body, headers, connections=32, seconds=1, work=work, name="observability-warmup",
                            warmup=0)
                    cpu_before = _cpu_seconds(gateways[name].proc.pid)
                    result = run_wrk(url, body, headers, connections=32, seconds=args.seconds, work=work,
                                     name=f"observability-{name}-{round_}", warmup=0)
                    cpu = _cpu_seconds(gateways[name].proc.pid) - cpu_before
                    rps[name].append(result.rps)
                    cpu_us[name].append(round(1e6 * cpu / max(1, result.requests), 1))
                    requests[name] += result.requests
                    errors += result.errors
            counted = {name: _served(service) for name, service in gateways.items()}
            time.sleep(1.5)                                  # the last batch of spans leaves after ~1 s
        finally:
            for service in gateways.values():
                service.stop()
    receiver.stop()

    median = {name: statistics.median(values) for name, values in rps.items()}
    cost = {name: round(100 * (median["bare"] - median[name]) / median["bare"], 2) for name in variants}
    cpu = {name: statistics.median(values) for name, values in cpu_us.items()}
    cpu_cost = {name: round(100 * (cpu[name] - cpu["bare"]) / cpu["bare"], 2) for name in variants}
    best = {name: min(values) for name, values in cpu_us.items()}
    best_cost = {name: round(100 * (best[name] - best["bare"]) / best["bare"], 2) for name in variants}
    work_us = _metrics_work_us()
    work_percent = round(100 * work_us / best["bare"], 2)
    # How far the same bare gateway's runs spread: past twice the target, wall-clock cannot resolve it.
    spread = round(100 * (max(cpu_us["bare"]) - min(cpu_us["bare"])) / cpu["bare"], 1)
    quiet = spread <= 2 * TARGET_PERCENT
    judged = cpu_cost["observed"] if quiet else work_percent
    spans_expected = 2 * (counted["otlp"] + 0.1 * counted["otlp-10%"])   # a request span and an attempt span each
    result = {
        "machine": machine(REPO), "seconds": args.seconds, "rounds": args.rounds, "errors": errors,
        "rps": rps, "median_rps": median, "cost_percent": cost,
        "cpu_us_per_request": cpu_us, "median_cpu_us_per_request": cpu, "cpu_cost_percent": cpu_cost,
        "best_cpu_us_per_request": best, "best_cpu_cost_percent": best_cost,
        "metrics_work_us_per_request": round(work_us, 2), "metrics_work_percent_of_bare": work_percent,
        "counted_by_metrics": counted, "otlp": {"exports": receiver.exports, "spans": receiver.count,
                                                 "spans_expected_at_least": spans_expected},
        "target_percent": TARGET_PERCENT, "bare_spread_percent": spread,
        "judged_on": "wall-clock CPU per request" if quiet else "in-process metrics work (the machine was too noisy)",
        "pass": judged <= TARGET_PERCENT and errors == 0,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    if args.instructions:
        print("benchmark: instructions per request under callgrind (bare, observed)...", file=sys.stderr, flush=True)
        with Service("fake", [sys.executable, "-m", "benchmarks.fake_provider", "--port", str(fake_port)],
                     port=fake_port, log=work / "observability-fake.log", cwd=REPO) as fake:
            fake.wait_ready("/healthz", timeout=30)
            counted_instructions = {name: _instructions_per_request(name, variants[name], fake.url + "/v1", work,
                                                                    args.instructions) for name in ("bare", "observed")}
        result["instructions_per_request"] = counted_instructions
        result["instructions_cost_percent"] = round(
            100 * (counted_instructions["observed"] - counted_instructions["bare"]) / counted_instructions["bare"], 2)
    (work / "observability.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    print(f"\nTTS c32, {args.rounds} interleaved runs of {args.seconds:g} s per gateway "
          f"({result['machine']['nproc']} CPUs, load before start {result['machine']['loadavg_at_start']}):\n")
    print("| gateway  | median req/s | req/s cost | CPU us/request: median (cost) | best (cost)       | runs")
    print("|----------|--------------|------------|-------------------------------|-------------------|------")
    for name in variants:
        runs = ", ".join(f"{v:.0f}" for v in cpu_us[name])
        print(f"| {name:<8} | {median[name]:>12.1f} | {cost[name]:>8.2f} % | {cpu[name]:>7.1f} ({cpu_cost[name]:>7.2f} %)"
              f"           | {best[name]:>6.1f} ({best_cost[name]:>6.2f} %) | {runs}")
    print("req/s per run: " + "; ".join(f"{n} " + ", ".join(f"{v:.0f}" for v in rps[n]) for n in variants))
    print(f"\nwrk errors: {errors}. Requests each gateway counted on /metrics (measured runs and warm-ups): "
          + ", ".join(f"{name} {counted[name]:.0f}" for name in variants) + ".")
    print(f"OTLP receiver: {receiver.count} spans in {receiver.exports} exports "
          f"(about {spans_expected:.0f} expected; the batch processor drops what its queue cannot hold).")
    print(f"Metrics work per TTS request, timed in-process: {work_us:.1f} us = {work_percent:.2f} % of the bare "
          "gateway's best CPU per request.")
    if args.instructions:
        counted_instructions = result["instructions_per_request"]
        print(f"Instructions per request (callgrind, {args.instructions} requests at c32): bare "
              f"{counted_instructions['bare']:,}, observed {counted_instructions['observed']:,} "
              f"(+{result['instructions_cost_percent']:.2f} %).")
    print(f"The bare gateway's own runs spread {spread:g} % (CPU per request): "
          + ("quiet enough to judge on wall-clock figures." if quiet else
             f"more than twice the {TARGET_PERCENT:g} % target, so the verdict is on the in-process figure."))
    verdict = "PASS" if result["pass"] else "FAIL"
    print(f"{verdict} ({result['judged_on']}): metrics + tracing (exporter off) cost {judged:.2f} % at TTS c32 "
          f"(target <= {TARGET_PERCENT:g} %). Wall-clock: {cpu_cost['observed']:.2f} % CPU per request (best runs "
          f"{best_cost['observed']:.2f} %), {cost['observed']:.2f} % of median req/s. With OTLP export "
          f"{cpu_cost['otlp']:.2f} % CPU ({cost['otlp']:.2f} % req/s); sampling 10 % {cpu_cost['otlp-10%']:.2f} % CPU "
          f"({cost['otlp-10%']:.2f} % req/s).")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
