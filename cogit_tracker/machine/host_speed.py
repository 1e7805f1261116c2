"""How fast this host computes and copies, for projecting a GPU-less run onto a GPU."""
from __future__ import annotations

import functools

from .. import schema


@functools.cache
def host_speed() -> dict[str, str]:
    """This host's float32 matmul rate and memory-copy bandwidth, measured once (about 0.2 s).

    A campaign run without a GPU records them, so `cogit-log project` can scale its phases onto
    a catalog GPU the way it scales GPU runs: by FLOP rate or by bandwidth. Best of three, to
    stay clear of a noisy neighbour's worst moment; never raises.
    """
    import time

    try:
        import numpy as np

        a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
        big = np.ones(32 * 1024**2, dtype=np.float32)  # 128 MB
        out = np.empty_like(big)
        flops, copy = [], []
        for _ in range(3):
            t = time.perf_counter()
            a @ a
            flops.append(2 * 1024**3 / (time.perf_counter() - t))
            t = time.perf_counter()
            np.copyto(out, big)
            copy.append(2 * big.nbytes / (time.perf_counter() - t))  # read + write
        return {schema.CPU_GFLOPS: f"{max(flops) / 1e9:.1f}",
                schema.CPU_BANDWIDTH_GBS: f"{max(copy) / schema.GB:.1f}"}
    except Exception:  # noqa: BLE001 - a measurement must never break a run
        return {}
