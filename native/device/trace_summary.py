#!/usr/bin/env python3
"""Where the GPU time of one profiled training step goes, from PyTorch profiler Chrome traces:
kernel time by kind (matrix products, attention, the loss's softmax, norms, casts and copies,
other element-wise work, the optimizer), the number of kernels, and the step's span on the GPU.

Usage: trace_summary.py TRACE.json...
"""
import json
import sys

KINDS = [
    ("gemm", ("gemm", "xmma", "cutlass", "nvjet", "cublas", "wgmma", "splitk", "matmul")),
    ("attention", ("flash", "fmha", "attention", "efficient")),
    ("softmax/loss", ("softmax", "nll", "logsumexp", "cross_entropy", "gather", "scatter")),
    ("norm", ("norm",)),
    ("optimizer", ("adam", "foreach", "multi_tensor")),
    ("reduce", ("reduce",)),
    ("cast/copy", ("copy", "cast", "convert", "cat", "roll")),
    ("elementwise", ("elementwise", "vectorized", "unrolled", "silu", "mul", "add", "fill")),
]


def kind(name):
    n = name.lower()
    for k, keys in KINDS:
        if any(key in n for key in keys):
            return k
    return "other"


def summarize(path):
    events = json.load(open(path)).get("traceEvents", [])
    kernels = [e for e in events if e.get("ph") == "X" and e.get("cat", "").lower() in ("kernel", "gpu_memcpy", "gpu_memset")]
    if not kernels:
        return None
    total = sum(e["dur"] for e in kernels)
    start = min(e["ts"] for e in kernels)
    end = max(e["ts"] + e["dur"] for e in kernels)
    by = {}
    for e in kernels:
        k = kind(e["name"])
        by[k] = by.get(k, 0) + e["dur"]
    top = {}
    for e in kernels:
        top[e["name"][:60]] = top.get(e["name"][:60], 0) + e["dur"]
    return total, end - start, len(kernels), by, sorted(top.items(), key=lambda x: -x[1])[:6]


def main(paths):
    names = [k for k, _ in KINDS] + ["other"]
    print(f'{"trace":<34} {"span ms":>8} {"busy ms":>8} {"idle%":>6} {"kernels":>7} ' + " ".join(f"{n[:9]:>9}" for n in names))
    tops = []
    for p in paths:
        s = summarize(p)
        label = p.rsplit("/", 1)[-1].replace(".json", "")
        if s is None:
            print(f"{label:<34} no kernels")
            continue
        total, span, count, by, top = s
        idle = 100 * (1 - total / span) if span else 0
        print(f"{label:<34} {span / 1e3:8.1f} {total / 1e3:8.1f} {idle:6.1f} {count:7d} "
              + " ".join(f"{by.get(n, 0) / 1e3:9.1f}" for n in names))
        tops.append((label, top))
    for label, top in tops:
        print(f"  top kernels, {label}: " + "; ".join(f"{n} {t / 1e3:.1f} ms" for n, t in top))


if __name__ == "__main__":
    main(sys.argv[1:])
