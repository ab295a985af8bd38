#!/usr/bin/env python3
"""The Python twin of `rlhf bench gpu` (org.rlhfstream.model.LoraStepBenchmark): one LoRA training
step of a Qwen2.5-0.5B-shaped model with random weights in PyTorch + transformers + PEFT.

Step: forward over B x T tokens, next-token cross-entropy (labels = input_ids, as transformers
shifts them), backward, torch.optim.AdamW(fused=True) on the LoRA weights (r=64, alpha 128, no
dropout, all seven projections), zero_grad. bf16 is mixed precision the usual way: the frozen
model in bf16, the LoRA weights float32 (PEFT's default), and torch.autocast(bf16) so that the
adapter's matmuls run in bf16 too. Prints one JSON object per case.

Usage: gpu_lora_step.py [--dtype fp32,bf16] [--attn eager,sdpa] [--shapes 8x512,16x1024]
                        [--warmup 3] [--iters 10] [--tf32] [--no-autocast] [--profile DIR]
MFU counts 4 x parameters x tokens/s over 790 TFLOP/s (the H200's measured bf16 rate).
"""
import argparse
import json
import statistics
import sys
import time

import torch

PEAK_FLOPS = 790e12


def qwen_config():
    from transformers import Qwen2Config

    # The rope base is left at its default: it changes the numbers, not the work.
    return Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        rms_norm_eps=1e-6, tie_word_embeddings=True, use_cache=False, initializer_range=0.02)


def build(dtype, attn):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(42)
    config = qwen_config()
    with torch.device("cuda"):
        try:
            model = AutoModelForCausalLM.from_config(config, attn_implementation=attn)
        except TypeError:
            config._attn_implementation = attn
            model = AutoModelForCausalLM.from_config(config)
    model = model.to(dtype)
    impl = getattr(model.config, "_attn_implementation", "?")
    base_params = sum(p.numel() for p in model.parameters())
    lora = LoraConfig(r=64, lora_alpha=128, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, lora)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    return model, base_params, trainable, impl


def run_case(model, base_params, trainable, impl, dtype, attn, batch, seq, warmup, iters, autocast, profile_dir=None):
    opt = torch.optim.AdamW(trainable, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, fused=True)
    ids = torch.randint(0, 151936, (batch, seq), device="cuda")
    use_autocast = autocast and dtype == torch.bfloat16

    def forward():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_autocast):
            return model(input_ids=ids, labels=ids).loss

    def step():
        loss = forward()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    loss = None
    for _ in range(iters):
        t0 = time.perf_counter()
        loss = step()
        loss_value = loss.item()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    peak = torch.cuda.max_memory_allocated() / 2**30
    # Where the time goes: synchronized phases over a few more steps.
    phases = [[], [], []]
    for _ in range(min(3, iters)):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss = forward()
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        loss.backward()
        torch.cuda.synchronize()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        t3 = time.perf_counter()
        for i, dt in enumerate((t1 - t0, t2 - t1, t3 - t2)):
            phases[i].append(dt * 1e3)
    if profile_dir:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            step()
            torch.cuda.synchronize()
        name = "bf16" if dtype == torch.bfloat16 else "fp32"
        prof.export_chrome_trace(f"{profile_dir}/python-{attn}-{name}-{batch}x{seq}.json")
    step_ms = statistics.median(times)
    tps = batch * seq / (step_ms / 1e3)
    return {
        "engine": "pytorch-hf-peft", "attention": attn, "attn_impl": impl,
        "dtype": "bf16" if dtype == torch.bfloat16 else "fp32",
        "autocast": use_autocast, "batch": batch, "seq": seq, "params": base_params,
        "lora_params": sum(p.numel() for p in trainable), "step_ms": round(step_ms, 2),
        "tokens_per_s": round(tps, 1), "mfu": round(4 * base_params * tps / PEAK_FLOPS, 4),
        "peak_mem_gib": round(peak, 2), "forward_ms": round(statistics.median(phases[0]), 2),
        "backward_ms": round(statistics.median(phases[1]), 2),
        "optimizer_ms": round(statistics.median(phases[2]), 2), "loss": round(loss_value, 4),
        "tf32": torch.backends.cuda.matmul.allow_tf32,
        "torch": torch.__version__, "lora_dtype": str(trainable[0].dtype),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="fp32,bf16")
    ap.add_argument("--attn", default="eager,sdpa")
    ap.add_argument("--shapes", default="8x512,16x1024")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--no-autocast", action="store_true")
    ap.add_argument("--profile", default=None, help="directory for one profiled step's Chrome trace per case")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    shapes = [tuple(int(x) for x in s.split("x")) for s in args.shapes.split(",")]
    for dname in args.dtype.split(","):
        dtype = torch.bfloat16 if dname == "bf16" else torch.float32
        for attn in args.attn.split(","):
            model, base_params, trainable, impl = build(dtype, attn)
            for batch, seq in shapes:
                try:
                    r = run_case(model, base_params, trainable, impl, dtype, attn, batch, seq, args.warmup,
                                 args.iters, not args.no_autocast, args.profile)
                except torch.OutOfMemoryError as e:
                    r = {"engine": "pytorch-hf-peft", "attention": attn, "dtype": dname, "batch": batch,
                         "seq": seq, "error": "out of memory: " + str(e).splitlines()[0]}
                print(json.dumps(r), flush=True)
                torch.cuda.empty_cache()
            del model, trainable
            torch.cuda.empty_cache()


if __name__ == "__main__":
    sys.exit(main())
