"""The Dask client of one ``--engine dask`` run: a running scheduler (``--scheduler ADDRESS``) or a local cluster.

Without an address, a ``distributed.LocalCluster`` sized by Dask to the machine (one worker process per few
cores, memory split between them) is started for the run and shut down after it; its dashboard is off.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

from jaccli.dask.array import INSTALL_HINT
from jaccli.errors import UsageError


@contextlib.contextmanager
def connect(scheduler: str | None) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--engine dask needs dask.distributed, which is not installed", hint=INSTALL_HINT) from None
    if scheduler is None:
        # Loopback only, no dashboard: a local run opens nothing another machine could reach. The scheduler's
        # small HTTP server (health checks) starts even without a dashboard (dask/distributed#7207), on 8787 by
        # default, and warns on stderr when another cluster holds that port: give it any free loopback port.
        http = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
        with LocalCluster(host="127.0.0.1", dashboard_address=None, scheduler_kwargs=http,
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                         hint="start one with 'dask scheduler', or drop --scheduler for a local cluster") from None
    with client:
        yield client


def total_threads(client: Any) -> int:
    return max(1, sum(client.nthreads().values()))
