"""The servers compared side by side in one run, each with the headers its requests carry.

All of them point at the same fake provider: the fake itself (`direct`), the gateway, LiteLLM and
Portkey. LiteLLM and Portkey are optional: one that cannot be installed or started is left out with
a note, and the run goes on without it. Portkey's start-server runs one process, so it is only
compared when the others run one process too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import msgspec

from .gateway_proc import GATEWAY_KEY, start_gateway
from .litellm_proc import LITELLM_KEY, start_litellm
from .portkey_proc import portkey_headers, start_portkey
from .procs import Service

__all__ = ["Installed", "Peer", "compared_peers"]


class Peer(msgspec.Struct, frozen=True):
    name: str
    service: Service
    headers: dict[str, str]  # authorization and routing; the content type is added per body


class Installed(msgspec.Struct, frozen=True):
    """What `ensure_litellm` / `ensure_portkey` gave: an executable or script, else why not."""
    litellm: Path | None
    litellm_note: str
    portkey: Path | None
    portkey_note: str


@contextmanager
def compared_peers(repo: Path, work: Path, fake: Service, workers: int | None,
                   installed: Installed) -> Iterator[tuple[dict[str, Peer], dict[str, str]]]:
    """Start the gateway and the peers that are installed; yields them by name and a note per peer left out."""
    upstream = fake.url + "/v1"
    notes = {"litellm": installed.litellm_note, "portkey": installed.portkey_note}
    with ExitStack() as stack:
        peers = {"direct": Peer("direct", fake, {"Authorization": "Bearer sk-fake-provider"})}
        gateway = stack.enter_context(start_gateway(repo, upstream, work / "gateway.log", workers))
        peers["gateway"] = Peer("gateway", gateway, {"Authorization": f"Bearer {GATEWAY_KEY}"})
        if installed.litellm is not None:
            litellm, notes["litellm"] = start_litellm(installed.litellm, upstream, work, workers)
            if litellm is not None:
                stack.enter_context(litellm)
                peers["litellm"] = Peer("litellm", litellm, {"Authorization": f"Bearer {LITELLM_KEY}"})
        if installed.portkey is not None and workers and workers > 1:
            notes["portkey"] = "Portkey skipped: its start-server runs one process; compare it at one process"
        elif installed.portkey is not None:
            portkey, notes["portkey"] = start_portkey(installed.portkey, work)
            if portkey is not None:
                stack.enter_context(portkey)
                peers["portkey"] = Peer("portkey", portkey, portkey_headers(upstream))
        yield peers, notes
