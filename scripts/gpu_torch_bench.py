#!/usr/bin/env python3
"""What a PyTorch user has, timed on the same GPU and shapes as Tessera's GPU benchmarks (scripts/gpu-check.sh).

Prints one line per measurement: `torch <name> <params> <milliseconds> ms`. Exits quietly (status 0, one line) when
PyTorch or a CUDA device is missing. Shapes match jmh/src/main/java/dev/tessera/jmh/gpu/*.
"""
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch not installed: no PyTorch comparison")
    sys.exit(0)
if not torch.cuda.is_available():
    print("torch sees no CUDA device: no PyTorch comparison")
    sys.exit(0)

dev = torch.device("cuda")


def time_ms(fn, reps=20, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def report(name, params, ms):
    print(f"torch {name} {params} {ms:.4f} ms", flush=True)


print(f"torch {torch.__version__} cuda {torch.version.cuda} on {torch.cuda.get_device_name(0)}")

# Bandwidth anchor: device-to-device copy of 256 MiB.
src = torch.empty(64 << 20, device=dev)
dst = torch.empty_like(src)
ms = time_ms(lambda: dst.copy_(src))
report("copy", "bytes=268435456", ms)
print(f"torch copy bandwidth {2 * src.numel() * 4 / ms / 1e6:.0f} GB/s (read+write)")
del src, dst

# Fused attention (SDPA picks flash attention for bf16): B=4, H=16, N=4096, d=64 and 128, causal and not.
for d in (64, 128):
    for causal in (False, True):
        b, h, n = 4, 16, 4096
        q, k, v = (torch.randn(b, h, n, d, device=dev, dtype=torch.bfloat16) for _ in range(3))
        ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
        flops = 4 * b * h * n * n * d / (2 if causal else 1)
        report("sdpa_forward", f"b={b},h={h},n={n},d={d},causal={causal}", ms)
        print(f"torch sdpa_forward d={d} causal={causal} {flops / ms / 1e9:.1f} TFLOP/s")
        del q, k, v

# Mamba-2 scan at the CPU benchmark's shape (B=4, L=2048, H=8, P=64, N=64): sequential recurrence and the chunked
# SSD form, both written in torch ops the way a user without the fused kernel would.
B, L, H, P, N = 4, 2048, 8, 64, 64
x = torch.randn(B, L, H, P, device=dev)
dt = F.softplus(torch.randn(B, L, H, device=dev) - 1)
A = -torch.rand(H, device=dev) - 0.5
Bm = torch.randn(B, L, H, N, device=dev)
Cm = torch.randn(B, L, H, N, device=dev)


def scan_sequential():
    h = torch.zeros(B, H, P, N, device=dev)
    ys = []
    for t in range(L):
        decay = torch.exp(dt[:, t] * A)  # [B, H]
        h = h * decay[..., None, None] + (dt[:, t, :, None, None] * x[:, t, :, :, None]) * Bm[:, t, :, None, :]
        ys.append(torch.einsum("bhpn,bhn->bhp", h, Cm[:, t]))
    return torch.stack(ys, 1)


def scan_chunked(Q=64):
    # SSD: within a chunk y = (C Bᵀ ∘ decay) (dt x); chunk states carried between chunks.
    nc = L // Q
    xc = (x * dt[..., None]).view(B, nc, Q, H, P)
    a = (dt * A).view(B, nc, Q, H)
    cs = torch.cumsum(a, 2)  # [B, nc, Q, H]
    Bc, Cc = Bm.view(B, nc, Q, H, N), Cm.view(B, nc, Q, H, N)
    seg = cs[:, :, :, None, :] - cs[:, :, None, :, :]  # [B, nc, Q(t), Q(s), H]
    mask = torch.tril(torch.ones(Q, Q, device=dev, dtype=torch.bool))[None, None, :, :, None]
    Ldec = torch.exp(seg.masked_fill(~mask, float("-inf")))
    y = torch.einsum("bctsh,bcthn,bcshn,bcshp->bcthp", Ldec, Cc, Bc, xc)
    dec_end = torch.exp(cs[:, :, -1:, :] - cs)  # decay from s to chunk end
    states = torch.einsum("bcsh,bcshn,bcshp->bchpn", dec_end, Bc, xc)
    h = torch.zeros(B, H, P, N, device=dev)
    carried = []
    for c in range(nc):
        carried.append(h)
        h = h * torch.exp(cs[:, c, -1, :])[..., None, None] + states[:, c]
    hs = torch.stack(carried, 1)  # [B, nc, H, P, N]
    y = y + torch.einsum("bcthn,bchpn,bcth->bcthp", Cc, hs, torch.exp(cs))
    return y.reshape(B, L, H, P)


report("scan_sequential", f"B={B},L={L},H={H},P={P},N={N}", time_ms(scan_sequential, reps=3, warmup=1))
report("scan_chunked", f"B={B},L={L},H={H},P={P},N={N}", time_ms(scan_chunked, reps=10, warmup=2))
err = (scan_chunked() - scan_sequential()).abs().max().item()
print(f"torch scan chunked-vs-sequential max abs difference {err:.2e}")
