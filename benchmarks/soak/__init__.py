"""A bounded fault-injection soak of the whole gateway, on loopback only (issue 7, "Proof").

`python -m benchmarks.soak` (or `make soak`) starts the fake OpenAI and SiliconFlow servers, a real
redis-server and moto S3 server, the gateway and two workers as real processes; sends a few thousand
mixed sync and job requests while the fakes fail at random (seeded) and a worker is SIGKILLed, another
SIGTERMed, each replaced; then waits for every accepted job and checks the invariants: no 5xx but the
gateway's own 502/503/504, every error in OpenAI's shape, no transport errors, no job lost or stuck, no
provider key shown, no connection held after an early answer, and no RSS or descriptor growth in the gateway. Modules, in the order a run uses them:

    config   SoakConfig: the knobs and their bounded defaults
    stack    the processes and servers, started and stopped together
    mix      the seeded request mix and each request's expectation (pure)
    send     one request through httpx or the OpenAI SDK, judged on its own
    chaos    seeded provider faults; worker SIGKILL / SIGTERM with replacement
    tally    counts and examples as outcomes arrive
    drain    waiting for every accepted job; fetching every result
    procstat RSS and open fds from /proc
    report   invariants, verdict, text summary, JSON
    runner   the run itself
"""

from .config import SoakConfig
from .report import Report, render
from .runner import run_soak

__all__ = ["Report", "SoakConfig", "render", "run_soak"]
