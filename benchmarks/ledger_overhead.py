"""`python -m benchmarks.ledger_overhead`: what keeping the books costs TTS and STT throughput at c32.

Three one-process gateways behind the same fake OpenAI provider (issue 11's benchmark):

- **off**: `benchmarks.no_ledger`, whose writer drops every row (the row is still built: metrics read it);
- **sqlite**: the default, an SQLite file in the data directory;
- **postgresql**: a throwaway PostgreSQL cluster on loopback, fsync on (as a real server runs).

wrk drives each in turn, TTS then STT, in rounds whose order rotates so the machine's drift spreads over
all of them. Each run also reads the gateway's CPU time from /proc: a one-process gateway at c32 is
CPU-bound, so CPU microseconds per request is the throughput cost with less of a shared machine's noise.
After the runs each ledger's own count of rows (the Usage API) is compared with the requests wrk saw
answered, so a fast figure cannot come from rows left unwritten. Target: within 5 % of off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import httpx
import msgspec
from tests.support.services import PostgresServer

from . import callgrind, payloads
from .gateway_proc import GATEWAY_KEY
from .load import run_wrk
from .procs import Service, free_port, pin, pin_here, tree_cpu_seconds, tree_pids
from .rounds import ENDPOINTS
from .system import ensure_wrk, machine

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
TARGET_PERCENT = 5.0
ADMIN_KEY = "sk-bench-admin"
_CALLGRIND_FLUSH = 15.0   # the writer's flush interval under callgrind (see _instructions)
_DROP = ("AUDIO_GATEWAY_", "OPENAI_", "SILICONFLOW_", "AWS_", "OTEL_", "PROMETHEUS_")


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ledger_overhead", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5, help="measured seconds per run (default 5; +1 s warm-up)")
    p.add_argument("--rounds", type=int, default=3, help="runs per gateway and endpoint, interleaved (default 3)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    p.add_argument("--instructions", type=int, default=0, metavar="N",
                   help="also count each gateway's instructions per request under callgrind, N requests per "
                        "endpoint (about fifteen minutes)")
    p.add_argument("--no-pin", dest="pin", action="store_false",
                   help="leave the processes unpinned (default: gateways on core 0; wrk, the fake and PostgreSQL on core 1)")
    args = p.parse_args(argv)
    args.pin = args.pin and len(os.sched_getaffinity(0)) >= 2
    return args


def _gateway(name: str, module: str, upstream: str, work: Path, extra: dict[str, str],
             wrapper: tuple[str, ...] = ()) -> Service:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env.update(OPENAI_BASE_URL=upstream, OPENAI_API_KEY="sk-fake-provider", SILICONFLOW_API_KEY="",
               AUDIO_GATEWAY_API_KEYS=f"bench:{GATEWAY_KEY}", AUDIO_GATEWAY_ADMIN_KEYS=f"ops:{ADMIN_KEY}",
               AUDIO_GATEWAY_CATALOG=str(REPO / "catalog"), AUDIO_GATEWAY_LOCAL="off",
               AUDIO_GATEWAY_DATA_DIR=str(work / f"ledger-{name}-data"), **extra)
    shutil.rmtree(work / f"ledger-{name}-data", ignore_errors=True)  # each run starts with empty books
    port = free_port()
    service = Service(name, [*wrapper, sys.executable, "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port)],
                      port=port, log=work / f"ledger-{name}.log", env=env, cwd=REPO)
    service.wait_ready("/healthz", timeout=900 if wrapper else 60)
    return service


def _instructions(variants: dict[str, tuple[str, dict[str, str]]], bodies: dict[str, tuple[bytes, str]], work: Path,
                  requests: int) -> dict[str, dict[str, int]]:
    """Instructions per request of each gateway under callgrind, TTS and STT (`requests` each, c32).

    One gateway at a time: under callgrind a gateway is some fifty times slower, and two sharing a core
    missed the provider's connect timeout. At that pace a one-second flush would write a few dozen rows
    and charge each row a share of a transaction that at c32 is spread over hundreds, so the writer
    flushes every 15 s (or at a full batch of 500, as under load) and each phase pauses 16 s before
    zeroing and before dumping: the window holds the writes of exactly the measured requests' rows."""
    fake_port = free_port()
    with Service("fake", [sys.executable, "-m", "benchmarks.fake_provider", "--port", str(fake_port)],
                 port=fake_port, log=work / "ledger-callgrind-fake.log", cwd=REPO) as fake:
        fake.wait_ready("/healthz", timeout=30)

        def count(name: str) -> dict[str, int]:
            module, extra = variants[name]
            out = work / f"callgrind-ledger-{name}.out"
            service = _gateway(f"callgrind-{name}", module, fake.url + "/v1", work,
                               {**extra, "AUDIO_GATEWAY_LEDGER_FLUSH_INTERVAL": str(_CALLGRIND_FLUSH),
                                **callgrind.SLOW_GATEWAY_ENV},
                               callgrind.wrapper(out))
            try:
                counted = {}
                for endpoint, (body, content_type) in bodies.items():
                    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": content_type}
                    counted |= callgrind.instructions_per_request(
                        service, out, {endpoint: headers}, requests=requests, warmup=100, path=ENDPOINTS[endpoint],
                        body=body, pause=_CALLGRIND_FLUSH + 1)
                return counted
            finally:
                service.stop()

        return {name: count(name) for name in variants}


def _rows(service: Service) -> int:
    """Rows the gateway's ledger holds, by its own Usage API (speech and transcription, all time)."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    total = 0
    for kind in ("audio_speeches", "audio_transcriptions"):
        response = httpx.get(f"{service.url}/v1/organization/usage/{kind}", timeout=30, headers=headers,
                             params={"start_time": int(time.time()) - 86400, "bucket_width": "1d", "limit": 2})
        response.raise_for_status()
        total += sum(result["num_model_requests"] for bucket in response.json()["data"] for result in bucket["results"])
    return total


def _table(rps: dict, cpu_us: dict, system_us: dict, database_us: dict, variants: list[str]) -> list[str]:
    """One row per endpoint and ledger; the CPU's system (kernel) part beside it, which callgrind's
    instruction counts leave out, and the PostgreSQL server's own CPU, which shares the load's core."""
    lines = ["| endpoint | ledger | median req/s | req/s vs off | median CPU us/request | CPU vs off "
             "| of which system us/request | PostgreSQL server CPU us/request | runs (req/s) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for endpoint in ENDPOINTS:
        base_rps = statistics.median(rps[endpoint]["off"])
        base_cpu = statistics.median(cpu_us[endpoint]["off"])
        for name in variants:
            median_rps = statistics.median(rps[endpoint][name])
            median_cpu = statistics.median(cpu_us[endpoint][name])
            runs = ", ".join(f"{v:.0f}" for v in rps[endpoint][name])
            system = statistics.median(system_us[endpoint][name])
            database = statistics.median(database_us[endpoint][name])
            lines.append(f"| {endpoint} | {name} | {median_rps:.1f} | {100 * (median_rps - base_rps) / base_rps:+.1f} % "
                         f"| {median_cpu:.0f} | {100 * (median_cpu - base_cpu) / base_cpu:+.1f} % | {system:.0f} "
                         f"| {database:.0f} | {runs} |")
    return lines


def _print_instructions(counted: dict[str, dict[str, int]]) -> None:
    print("\ninstructions per request under callgrind (user space only: the gateway's own work, SQLite's library "
          "included, not the kernel's writes):")
    for endpoint in ENDPOINTS:
        off = counted["off"][endpoint]
        print(f"  {endpoint}: " + ", ".join(f"{name} {c[endpoint]:,} ({100 * (c[endpoint] - off) / off:+.2f} %)"
                                            for name, c in counted.items()))


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    work = args.out
    work.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    bodies = {"tts": (payloads.SPEECH_JSON, "application/json"),
              "stt": payloads.multipart({"model": "whisper-1"}, "speech.wav", payloads.wav(10))}
    for endpoint, (body, _) in bodies.items():
        (work / f"ledger-{endpoint}.body").write_bytes(body)
    postgres = PostgresServer(durable=True)
    variants = {"off": ("benchmarks.no_ledger", {}), "sqlite": ("audio_gateway.cli", {}),
                "postgresql": ("audio_gateway.cli", {"AUDIO_GATEWAY_DATABASE_URL": postgres.create_database("bench")})}
    names = list(variants)
    rps = {e: {n: [] for n in names} for e in ENDPOINTS}
    cpu_us = {e: {n: [] for n in names} for e in ENDPOINTS}
    system_us: dict[str, dict[str, list[float]]] = {e: {n: [] for n in names} for e in ENDPOINTS}
    database_us: dict[str, dict[str, list[float]]] = {e: {n: [] for n in names} for e in ENDPOINTS}
    answered = dict.fromkeys(names, 0)
    errors = 0
    started = time.monotonic()
    fake_port = free_port()
    try:
        with Service("fake", [sys.executable, "-m", "benchmarks.fake_provider", "--port", str(fake_port)],
                     port=fake_port, log=work / "ledger-fake.log", cwd=REPO) as fake:
            fake.wait_ready("/healthz", timeout=30)
            gateways = {n: _gateway(n, module, fake.url + "/v1", work, extra) for n, (module, extra) in variants.items()}
            if args.pin:  # the gateways on core 0, the load on core 1 (procs.pin says why)
                for service in gateways.values():
                    pin(service.proc.pid, {0})
                pin(fake.proc.pid, {1})
                # PostgreSQL is a service the gateway talks to, like the fake: on the load's core, its
                # backends (forked from the postmaster later) included, not competing with the gateway.
                pin(postgres.postmaster_pid(), {1})
                pin_here({1})   # wrk, started from here, inherits it
            try:
                for round_ in range(args.rounds):
                    shift = round_ % len(names)
                    for name in names[shift:] + names[:shift]:
                        for endpoint, (_, content_type) in bodies.items():
                            print(f"benchmark: round {round_ + 1}/{args.rounds} {name} {endpoint} c32...",
                                  file=sys.stderr, flush=True)
                            url = gateways[name].url + ENDPOINTS[endpoint]
                            headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": content_type}
                            body = work / f"ledger-{endpoint}.body"
                            run_wrk(url, body, headers, connections=32, seconds=1, work=work, name="ledger-warmup",
                                    warmup=0)
                            pids = [gateways[name].proc.pid]
                            before = tree_cpu_seconds(pids)
                            before_system = tree_cpu_seconds(pids, system_only=True)
                            server = tree_pids(postgres.postmaster_pid())   # its backends are long-lived
                            before_server = tree_cpu_seconds(server)
                            result = run_wrk(url, body, headers, connections=32, seconds=args.seconds, work=work,
                                             name=f"ledger-{name}-{endpoint}-{round_}", warmup=0)
                            cpu = tree_cpu_seconds(pids) - before
                            system_us[endpoint][name].append(
                                round(1e6 * (tree_cpu_seconds(pids, system_only=True) - before_system)
                                      / max(1, result.requests), 1))
                            database_us[endpoint][name].append(
                                round(1e6 * (tree_cpu_seconds(server) - before_server) / max(1, result.requests), 1))
                            rps[endpoint][name].append(result.rps)
                            cpu_us[endpoint][name].append(round(1e6 * cpu / max(1, result.requests), 1))
                            answered[name] += result.requests
                            errors += result.errors
                time.sleep(2.5)  # the writers' last batch (they flush every second)
                rows = {name: _rows(service) for name, service in gateways.items() if name != "off"}
            finally:
                for service in gateways.values():
                    service.stop()
        if args.instructions:
            print("benchmark: instructions per request under callgrind (off, sqlite, postgresql in turn)...",
                  file=sys.stderr, flush=True)
            counted = _instructions(variants, bodies, work, args.instructions)
    finally:
        postgres.close()

    if args.instructions:
        _print_instructions(counted)
    if not args.rounds:
        return 0
    table = _table(rps, cpu_us, system_us, database_us, names)
    worst = max(100 * (statistics.median(cpu_us[e][n]) - statistics.median(cpu_us[e]["off"]))
                / statistics.median(cpu_us[e]["off"]) for e in ENDPOINTS for n in names if n != "off")
    result = {"machine": machine(REPO), "seconds": args.seconds, "rounds": args.rounds, "pinned": args.pin, "errors": errors,
              "rps": rps, "cpu_us_per_request": cpu_us, "database_cpu_us_per_request": database_us, "rows_in_ledger": rows,
              "requests_measured": answered, "worst_cpu_cost_percent": round(worst, 2),
              "target_percent": TARGET_PERCENT, "pass": worst <= TARGET_PERCENT and errors == 0,
              "wall_seconds": round(time.monotonic() - started, 1)}
    if args.instructions:
        result["instructions_per_request"] = counted
    (work / "ledger_overhead.json").write_bytes(msgspec.json.format(msgspec.json.encode(result)))
    print(f"\nc32, {args.rounds} interleaved runs of {args.seconds:g} s per gateway and endpoint"
          f"{', gateways pinned to core 0 and the load and PostgreSQL to core 1' if args.pin else ''} "
          f"({result['machine']['nproc']} CPUs, load before start {result['machine']['loadavg_at_start']}):\n")
    print("\n".join(table))
    print("\nrows in each ledger (every request, warm-ups included) vs requests measured: "
          + ", ".join(f"{n} {rows[n]} >= {answered[n]}" for n in rows))
    print(f"worst CPU cost of a ledger vs off: {worst:+.2f} % (target <= {TARGET_PERCENT:g} %): "
          f"{'PASS' if result['pass'] else 'FAIL'}; errors {errors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
