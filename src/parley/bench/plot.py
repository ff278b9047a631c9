"""``--plot PATH``: a PNG of a result's send-to-delivery latency, percentiles over time
(left) and the whole distribution (right). Rendering only; the figures come from
:mod:`parley.bench.report`."""

from __future__ import annotations

from typing import Any


def plot(result: dict[str, Any], path: str) -> None:
    """Writes the PNG; a result without latencies (``connections``) gets a note instead."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (over_time, dist) = plt.subplots(1, 2, figsize=(13, 4.8))
    name = f"parley bench {result['preset']['name']} ({result['route']})"
    timeline, distribution = result.get("timeline") or [], result.get("distribution") or []
    if timeline:
        t = [row["t"] for row in timeline]
        for key, style in (("p50", "-"), ("p99", "-"), ("p99.9", "--"), ("max", ":")):
            over_time.plot(t, [row[key] for row in timeline], style, label=key)
        noise = result.get("machine_noise") or {}
        for i, window in enumerate(noise.get("busy", [])):  # other processes took a core
            over_time.axvspan(
                window["t"],
                window["t"] + noise["window_s"],
                color="red",
                alpha=0.15,
                label="other processes busy" if i == 0 else None,
            )
        late = result.get("client_lateness") or {}
        for who, name, marker in (("subscribers", "subscriber", "v"), ("senders", "sender", "^")):
            times = (late.get(who) or {}).get("late") or []
            if times:  # the bench's own client process woke this late (ms), at that time
                over_time.scatter(
                    [t for t, *_ in times],
                    [ms for _, ms, *_ in times],
                    marker=marker,
                    s=14,
                    color="black",
                    label=f"{name} process late to run (ms)",
                )
        over_time.set_yscale("log")
        over_time.set_xlabel("scheduled send time (s)")
        over_time.set_ylabel("send-to-delivery (ms)")
        over_time.set_title("latency percentiles over the run")
        over_time.grid(True, which="both", alpha=0.3)
        over_time.legend()
    else:
        over_time.text(0.5, 0.5, "no deliveries in this preset", ha="center")
    if distribution:
        xs = [1 / (1 - p / 100) if p < 100 else 1e5 for p, _ in distribution]
        dist.plot(xs, [ms for _, ms in distribution])
        dist.set_xscale("log")
        dist.set_yscale("log")
        ticks = [2, 10, 100, 1000, 10_000, 100_000]
        dist.set_xticks(ticks, ["p50", "p90", "p99", "p99.9", "p99.99", "p99.999"])
        dist.set_ylabel("send-to-delivery (ms)")
        dist.set_title("latency distribution")
        dist.grid(True, which="both", alpha=0.3)
    else:
        dist.axis("off")
    fig.suptitle(name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
