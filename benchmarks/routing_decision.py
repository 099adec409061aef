"""`python -m benchmarks.routing_decision`: what routing a request costs before its first upstream byte.

Every speech request to a routed model (tts-1, auto) runs `Gateway.decide_speech`: the capability check
of each reachable target, the CJK share of the input when a rule needs it, and for `auto` the price of
the request on each candidate. Figures are the median of repeated decisions on the shipped catalog, for
short and 4,096-character inputs in English and Chinese; a plain chain (tts-1-hd) is the baseline.
Prints a Markdown table; nothing binds or downloads.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from audio_gateway.catalog import load_plan
from audio_gateway.gateway import Gateway
from audio_gateway.providers import ADAPTERS
from audio_gateway.speech import SpeechRequest

__all__ = ["main"]

CATALOG = Path(__file__).resolve().parents[1] / "catalog"
TEXTS = {
    "short English": "Hello there, how are you today?",
    "short Chinese": "今天天气很好，我们去公园散步吧。",
    "4,096 English": ("Hello there. " * 316)[:4096],
    "4,096 Chinese": ("今天天气很好，我们去公园散步吧。" * 256)[:4096],
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.routing_decision", description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=2000)
    args = p.parse_args(argv)
    plan = load_plan(CATALOG, {"OPENAI_API_KEY": "k", "SILICONFLOW_API_KEY": "k"}, ADAPTERS.keys())
    gateway = Gateway(plan, {})
    print("| input | tts-1-hd (chain) | tts-1 (content) | auto (content, cheapest) |\n|---|---|---|---|")
    for label, text in TEXTS.items():
        cells = []
        for model in ("tts-1-hd", "tts-1", "auto"):
            request, route = SpeechRequest(model=model, input=text, voice="alloy"), plan.resolve(model)
            assert route is not None
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                gateway.decide_speech(request, route, request_id="req_bench")
                times.append(time.perf_counter() - start)
            cells.append(f"{statistics.median(times) * 1e6:.1f} us")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
