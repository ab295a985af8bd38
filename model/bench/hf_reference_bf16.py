#!/usr/bin/env python3
"""Greedy decoding of the reference model (model/src/test/resources/hf-reference/llama-tiny) by
Hugging Face transformers itself, in float32 and in bf16, on the GPU: how far bf16 departs from the
float32 reference tokens when nothing but the precision changes. Context for the Java bf16 parity
test, which allows departures only at near-ties.

Usage: hf_reference_bf16.py DIR
"""
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM


def main(d):
    golden = load_file(f"{d}/golden.safetensors")
    ids = golden["input_ids"].cuda()
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        for attn in ("eager", "sdpa"):
            model = AutoModelForCausalLM.from_pretrained(d, dtype=dtype, attn_implementation=attn).cuda().eval()
            with torch.no_grad():
                gen = model.generate(ids, max_new_tokens=16, min_new_tokens=16, do_sample=False, eos_token_id=None,
                                     pad_token_id=2)
            want = golden["greedy"].cuda()
            rows = []
            for r in range(want.shape[0]):
                diff = (gen[r] != want[r]).nonzero()
                rows.append(int(diff[0]) if len(diff) else None)
            logits = model(ids).logits.float()
            err = (logits - golden["logits"].cuda()).abs().max().item()
            out[f"{name}-{attn}"] = {"first_departure_per_row": rows, "max_abs_logit_err": round(err, 4)}
    print(json.dumps({"hf_reference_greedy": out}))


if __name__ == "__main__":
    main(sys.argv[1])
