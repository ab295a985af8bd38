#!/usr/bin/env python3
"""Plain PyTorch twin of `rlhf bench model`: the same Llama-style decoder (RMSNorm, rotary
embeddings, grouped-query attention, SwiGLU, untied LM head), written the way Hugging Face's eager
implementation is, timed on the same batch shapes. Prints one JSON object per preset.

Usage: torch_bench.py --config JSON --batch 8 --seq 256 --warmup 2 --iters 5 --threads 2
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, hd = c["hidden_size"], c["head_dim"]
        self.heads, self.kv_heads, self.hd = c["num_attention_heads"], c["num_key_value_heads"], hd
        self.input_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.q_proj = nn.Linear(h, self.heads * hd, bias=False)
        self.k_proj = nn.Linear(h, self.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(h, self.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(self.heads * hd, h, bias=False)
        self.post_attention_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.gate_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(h, c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], h, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        groups = self.heads // self.kv_heads  # repeat_kv, as transformers does
        k = k[:, :, None].expand(b, self.kv_heads, groups, t, self.hd).reshape(b, self.heads, t, self.hd)
        v = v[:, :, None].expand(b, self.kv_heads, groups, t, self.hd).reshape(b, self.heads, t, self.hd)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.hd) + mask
        probs = F.softmax(scores, dim=-1, dtype=torch.float32)
        a = torch.matmul(probs, v).transpose(1, 2).reshape(b, t, -1)
        x = x + self.o_proj(a)
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([Block(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        hd = c["head_dim"]
        inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))
        freqs = torch.outer(torch.arange(c["max_position_embeddings"]).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids):
        b, t = ids.shape
        cos = self.cos[:t][None, None]
        sin = self.sin[:t][None, None]
        pos = torch.arange(t)
        mask = torch.zeros(t, t).masked_fill(pos[None, :] > pos[:, None], torch.finfo(torch.float32).min)[None, None]
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def peak_rss_mb():
    # VmHWM, not getrusage: ru_maxrss survives exec, so a child of the JVM would report the JVM's peak.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="the model's config.json as a JSON string")
    ap.add_argument("--name", default="model")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    c = json.loads(args.config)
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    c.setdefault("rope_theta", c.get("rope_parameters", {}).get("rope_theta", 10000.0))
    model = Decoder(c)
    params = sum(p.numel() for p in model.parameters())
    ids = torch.randint(0, c["vocab_size"], (args.batch, args.seq))
    vocab = c["vocab_size"]

    def forward():
        with torch.no_grad():
            logits = model(ids)
            return F.cross_entropy(logits.view(-1, vocab), ids.view(-1)).item()

    def forward_backward():
        logits = model(ids)
        loss = F.cross_entropy(logits.view(-1, vocab), ids.view(-1))
        loss.backward()
        model.zero_grad(set_to_none=True)
        return loss.item()

    def timed(fn):
        # Best of the timed iterations, as the Java side: other processes only ever add time.
        warm_start = time.perf_counter()
        done = 0
        while done < args.warmup or time.perf_counter() - warm_start < 2.0:
            fn()
            done += 1
        best = float("inf")
        for _ in range(args.iters):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return best

    fwd = timed(forward)
    fwd_bwd = timed(forward_backward)
    tokens = args.batch * args.seq
    print(json.dumps({
        "name": args.name,
        "params": params,
        "batch": args.batch,
        "seq": args.seq,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "fwd_tps": tokens / fwd,
        "fwd_bwd_tps": tokens / fwd_bwd,
        "peak_rss_mb": peak_rss_mb(),
    }))


if __name__ == "__main__":
    main()
