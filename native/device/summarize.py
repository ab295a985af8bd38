#!/usr/bin/env python3
"""Summary of a device run (native/device/run-on-device.sh): stages, tests, benchmark table."""
import glob
import json
import os
import re
import sys

out = sys.argv[1]
logs = os.path.join(out, "logs")


def read(name):
    p = os.path.join(logs, name)
    return open(p, errors="replace").read() if os.path.exists(p) else ""


print("== stages ==")
print(read("stages.txt").strip())
print("== machine ==")
print("\n".join(read("machine.log").strip().splitlines()[:8]))
print("== tests ==")
for t in ("tests-gpu", "tests-cpu"):
    text = read(t + ".log")
    counts = re.findall(r"\[\s*(\d+) tests (successful|failed|skipped|aborted)\s*\]", text)
    failures = re.findall(r"(?m)^.*✘.*$", text)
    print(t, " ".join(f"{n} {k}" for n, k in counts) or "no result")
    for f in failures[:8]:
        print("   ", f.strip()[:200])
print("== doctor ==")
print("\n".join(l for l in read("doctor.log").splitlines() if not re.match(r"^\d\d:\d\d", l))[-2500:])
print("== where the GPU time goes (one profiled step per case; ms of kernel time) ==")
print(read("traces.log").strip()[-4000:])
print("== hf bf16 greedy ==")
print("\n".join(l for l in read("hf-bf16-greedy.log").splitlines() if l.startswith("{")))

rows = []
try:
    for line in open(os.path.join(out, "bench-java.json")):
        rows += json.loads(line)["results"]
except Exception as e:  # noqa: BLE001
    print("java bench: no results (" + str(e) + ")")
for line in open(os.path.join(out, "bench-python.jsonl")) if os.path.exists(os.path.join(out, "bench-python.jsonl")) else []:
    try:
        rows.append(json.loads(line))
    except ValueError:
        pass
print("== benchmark: LoRA step, Qwen2.5-0.5B shape, r=64 on 7 modules; MFU = 4*params*tokens/s / 790 TFLOP/s ==")
fmt = "{:<16} {:<6} {:<9} {:<8} {:>10} {:>9} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7}"
print(fmt.format("engine", "attn", "dtype", "shape", "tokens/s", "step ms", "MFU%", "peakGiB", "fwd ms", "bwd ms",
                 "opt ms", "vs sdpa"))
ref = {(r["dtype"], r["batch"], r["seq"]): r["tokens_per_s"] for r in rows
       if r.get("engine") == "pytorch-hf-peft" and r.get("attention") == "sdpa" and "tokens_per_s" in r
       and not r.get("tf32")}
for r in rows:
    shape = f'{r["batch"]}x{r["seq"]}'
    dtype = r["dtype"] + ("+tf32" if r.get("tf32") and r["dtype"] == "fp32" else "")
    if "error" in r:
        print(fmt.format(r["engine"], r["attention"], dtype, shape, "error", "", "", "", "", "", "", ""),
              r["error"][:80])
        continue
    base = ref.get((r["dtype"], r["batch"], r["seq"]))
    ratio = f'{r["tokens_per_s"] / base:.2f}x' if base else ""
    print(fmt.format(r["engine"], r["attention"], dtype, shape, f'{r["tokens_per_s"]:.0f}', f'{r["step_ms"]:.1f}',
                     f'{100 * r["mfu"]:.1f}', f'{r["peak_mem_gib"]:.1f}', f'{r["forward_ms"]:.1f}',
                     f'{r["backward_ms"]:.1f}', f'{r["optimizer_ms"]:.1f}', ratio))
