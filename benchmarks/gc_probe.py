"""`python -m benchmarks.gc_probe`: what the garbage collector costs the one-process gateway, and what gc.freeze() saves.

The gateway keeps a large heap from start-up (the catalog, the o200k tokenizer table, every
imported module), and a full (generation 2) collection walks all of it. `serve --workers N` calls
`gc.freeze()` before forking, which moves that heap out of the collector's reach; one process does
not. This runs the gateway twice under benchmarks.gc_wrap (as it is, then frozen once it answers),
each time under TTS and STT c32 load from wrk, and prints per run: req/s, CPU per request (from
/proc), and the collector's time per generation as a share of that CPU. CPU per request is the
figure to compare on a shared machine; req/s moves with whatever else runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import msgspec

from .gateway_proc import GATEWAY_KEY, start_gateway
from .load import run_wrk
from .procs import Service, free_port, tree_cpu_seconds
from .report import table
from .rounds import ENDPOINTS, load_bodies
from .system import ensure_wrk

__all__ = ["GcRun", "main"]

REPO = Path(__file__).resolve().parent.parent


class GcRun(msgspec.Struct, frozen=True):
    frozen: bool
    endpoint: str
    rps: float
    requests: int
    errors: int
    cpu_s: float
    gc_s: dict[str, float]      # generation -> seconds in collections during the run
    collections: dict[str, int]

    @property
    def cpu_ms_per_request(self) -> float:
        return round(1000 * self.cpu_s / self.requests, 3) if self.requests else 0.0

    def gc_share(self, generation: str) -> float:
        return round(100 * self.gc_s[generation] / self.cpu_s, 1) if self.cpu_s else 0.0


def _stats(path: Path) -> dict:
    return json.loads(path.read_text())


def _measure(gateway: Service, stats: Path, work: Path, endpoint: str, body: Path, content_type: str,
             seconds: float, frozen: bool) -> GcRun:
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": content_type}
    url = gateway.url + ENDPOINTS[endpoint]
    run_wrk(url, body, headers, connections=32, seconds=1, work=work, name=f"gc-{endpoint}-warmup", warmup=0)
    time.sleep(1.1)  # the stats file is rewritten twice a second
    before, cpu0 = _stats(stats), tree_cpu_seconds(gateway.pids())
    r = run_wrk(url, body, headers, connections=32, seconds=seconds, work=work, name=f"gc-{endpoint}", warmup=0)
    time.sleep(1.1)
    after, cpu1 = _stats(stats), tree_cpu_seconds(gateway.pids())
    gens = ("0", "1", "2")
    return GcRun(frozen, endpoint, r.rps, r.requests, r.errors, round(cpu1 - cpu0, 3),
                 {g: round(after["seconds"][g] - before["seconds"][g], 4) for g in gens},
                 {g: after["collections"][g] - before["collections"][g] for g in gens})


def probe(work: Path, fake: Service, seconds: float) -> list[GcRun]:
    bodies = load_bodies()
    runs = []
    for frozen in (False, True):
        stats, freeze = work / "gc-stats.json", work / "gc-freeze"
        freeze.unlink(missing_ok=True)
        wrap = [sys.executable, "-m", "benchmarks.gc_wrap", str(stats), *([str(freeze)] if frozen else []), "--"]
        with start_gateway(REPO, fake.url + "/v1", work / "gateway-gc.log", cli=wrap) as gateway:
            if frozen:
                freeze.touch()
            deadline = time.monotonic() + 10
            while not (stats.exists() and _stats(stats)["frozen"] == frozen) and time.monotonic() < deadline:
                time.sleep(0.2)
            for endpoint, (body, content_type) in bodies.items():
                path = work / f"{endpoint}.body"
                path.write_bytes(body)
                print(f"gc probe: {'frozen' if frozen else 'as is'} {endpoint} c32...", file=sys.stderr, flush=True)
                runs.append(_measure(gateway, stats, work, endpoint, path, content_type, seconds, frozen))
    return runs


def render(runs: list[GcRun]) -> str:
    def gen(r: GcRun, g: str) -> str:
        n = r.collections[g]
        pause = 1000 * r.gc_s[g] / n if n else 0.0
        return f"{r.gc_share(g)} % ({n} x {pause:.2f} ms)"

    return table(["gateway", "endpoint", "req/s", "errors", "CPU ms / request", "gen 0", "gen 1", "gen 2 (full)"],
                 [["gc.freeze()" if r.frozen else "as is", r.endpoint, r.rps, r.errors, r.cpu_ms_per_request,
                   gen(r, "0"), gen(r, "1"), gen(r, "2")] for r in runs]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gc_probe", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=6)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ensure_wrk()
    port = free_port()
    with Service("fake", [sys.executable, "-m", "benchmarks.fake_provider", "--port", str(port)], port=port,
                 log=args.out / "fake-gc.log", cwd=REPO) as fake:
        fake.wait_ready("/healthz", timeout=30)
        runs = probe(args.out, fake, args.seconds)
    print("Garbage collector, one gateway process, c32 (share of the gateway's CPU; collections x mean pause):\n")
    print(render(runs))
    (args.out / "gc-probe.json").write_bytes(msgspec.json.encode(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
