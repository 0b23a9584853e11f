#!/usr/bin/python3
"""The PyTorch side of `make bench`: the same VAE as infbench (784-200-200-2K encoder,
K-200-200-784 Bernoulli decoder, ELU), float32, CPU, measured on the same workloads:

  train   training examples per second (batch B, one sample, Adam)
  iwae    IWAE-k points per second (k samples per point, forward only)
  qstar   per-point q* optimisation: point-steps per second with S samples per step
          (the decoder frozen, gradients w.r.t. the per-point (mu, log sigma^2) only)
  ais     forward AIS from the prior with HMC (MATH.md section 7), as infbench's
          infer/ais.c runs it with adapt = fixed: chain-transitions per second (one
          transition = one leapfrog step of one chain)

Prints one line per measurement, "torch WORKLOAD threads=T value UNIT", the median of
--repeat runs, and the peak resident memory.  Run by bench/run, which gives both sides
the same shape options (the names are vae_bench's); needs Debian's python3-torch under
/usr/bin/python3.

Nothing infbench does is withheld: the same shapes and rows per gemm (IWAE decodes
--block-rows rows per call, as vae_bench does), Adam with foreach=True (PyTorch's
multi-tensor update: one call per step, not one per parameter tensor), gradients reset
by dropping them (zero_grad(set_to_none=True), as PyTorch 2 does by default) rather than
by a memset, and IWAE under torch.inference_mode().  bench/run tries every torch and
OpenBLAS thread count and takes the best.  Not mirrored: infbench's --split (points
divided over the cores, each part with single-threaded gemms) has no in-process PyTorch
form; PyTorch's threads divide each op instead.
"""
import argparse
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ELU())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    def __init__(self, D, K, H):
        super().__init__()
        self.K = K
        self.enc = mlp([D, H, H, 2 * K])
        self.dec = mlp([K, H, H, D])

    def log_px_given_z(self, x, logits):
        # Bernoulli log-likelihood in stable form: x l - softplus(l)
        return (x * logits - F.softplus(logits)).sum(-1)

    def elbo(self, x):
        h = self.enc(x)
        mu, lv = h[:, : self.K], h[:, self.K :]
        eps = torch.randn_like(mu)
        z = mu + torch.exp(0.5 * lv) * eps
        ll = self.log_px_given_z(x, self.dec(z))
        kl = 0.5 * (torch.exp(lv) + mu * mu - 1.0 - lv).sum(-1)
        return ll - kl

    @torch.inference_mode()
    def iwae(self, x, k, chunk):
        h = self.enc(x)
        mu, lv = h[:, : self.K], h[:, self.K :]
        sd = torch.exp(0.5 * lv)
        out = []
        for i in range(x.shape[0]):
            logw = []
            for c0 in range(0, k, chunk):
                m = min(chunk, k - c0)
                eps = torch.randn(m, self.K)
                z = mu[i] + sd[i] * eps
                ll = self.log_px_given_z(x[i], self.dec(z))
                lp = -0.5 * (z * z).sum(-1) - 0.5 * self.K * math.log(2 * math.pi)
                lq = (-0.5 * eps * eps - 0.5 * lv[i] - 0.5 * math.log(2 * math.pi)).sum(-1)
                logw.append(ll + lp - lq)
            logw = torch.cat(logw)
            out.append(torch.logsumexp(logw, 0) - math.log(k))
        return torch.stack(out)


def ais(vae, x, a, step=0.01, clip=1e4):
    """Forward AIS from the prior, infbench's algorithm (infer/ais.h) with a fixed step:
    per tile of P points (P = --ais-tile), their C chains batched as the decoder's rows;
    U(z) = 1/2 |z|^2 - beta ln p(x|z); ln p(x|z) and its z-gradient by autograd on z only
    (the decoder's parameters need no gradient), carried from move to move; T linear
    temperatures; per move fresh momentum, L leapfrog steps (half steps merged inside, one
    decoder call per step) and a Metropolis test on H = U + 1/2 |r|^2."""
    C, T, L, K = a.ais_chains, a.ais_temperatures, a.ais_leapfrog, a.latent
    beta = [t / T for t in range(T + 1)]
    out = []

    def loglik(xr, z):
        z = z.detach().requires_grad_(True)
        ll = vae.log_px_given_z(xr, vae.dec(z))
        (g,) = torch.autograd.grad(ll.sum(), z)
        return ll.detach(), g.clamp_(-clip, clip)

    for i0 in range(0, x.shape[0], a.ais_tile):
        xr = x[i0 : i0 + a.ais_tile].repeat_interleave(C, 0)  # row r: its point's image
        R = xr.shape[0]
        z = torch.randn(R, K)
        ell, gell = loglik(xr, z)
        lnw = torch.zeros(R)
        for t in range(1, T + 1):
            lnw += (beta[t] - beta[t - 1]) * ell
            b = beta[t]
            U = 0.5 * (z * z).sum(-1) - b * ell
            gU = z - b * gell
            r = torch.randn(R, K)
            H0 = U + 0.5 * (r * r).sum(-1)
            zp, rp = z.clone(), r - 0.5 * step * gU
            for l in range(L):
                zp += step * rp
                ellp, gellp = loglik(xr, zp)
                gUp = zp - b * gellp
                rp -= (step if l < L - 1 else 0.5 * step) * gUp
            H1 = 0.5 * (zp * zp).sum(-1) - b * ellp + 0.5 * (rp * rp).sum(-1)
            ok = torch.rand(R) < torch.exp(H0 - H1)
            ok &= torch.isfinite(H1)
            z = torch.where(ok[:, None], zp, z)
            ell = torch.where(ok, ellp, ell)
            gell = torch.where(ok[:, None], gellp, gell)
        lw = lnw.view(-1, C)
        out.append(torch.logsumexp(lw, 1) - math.log(C))
    return torch.cat(out)


def median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--latent", type=int, default=50)
    p.add_argument("--hidden", type=int, default=200)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--iwae-k", type=int, default=5000)
    p.add_argument("--iwae-points", type=int, default=4)
    # IWAE's rows per decoder pass: vae_bench's --block-rows (INFB_VAE_BLOCK_ROWS)
    p.add_argument("--block-rows", type=int, default=1024)
    p.add_argument("--qstar-points", type=int, default=100)
    p.add_argument("--qstar-samples", type=int, default=1)
    p.add_argument("--qstar-steps", type=int, default=50)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--ais-chains", type=int, default=16)
    p.add_argument("--ais-temperatures", type=int, default=50)
    p.add_argument("--ais-leapfrog", type=int, default=10)
    p.add_argument("--ais-points", type=int, default=8)
    # points whose chains share one decoder call (rows = tile * chains)
    p.add_argument("--ais-tile", type=int, default=8)
    p.add_argument("--workloads", default="train,iwae,qstar")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    D = 784
    vae = VAE(D, a.latent, a.hidden)
    x = (torch.rand(a.batch, D) > 0.5).float()
    work = a.workloads.split(",")

    if "train" in work:
        opt = torch.optim.Adam(vae.parameters(), lr=1e-3, eps=1e-4, foreach=True)

        def train():
            for _ in range(a.steps):
                opt.zero_grad(set_to_none=True)
                loss = -vae.elbo(x).mean()
                loss.backward()
                opt.step()

        train()  # warm-up
        t = median_time(train, a.repeat)
        print(f"torch train threads={a.threads} {a.steps * a.batch / t:.1f} examples/s")

    if "iwae" in work:
        xi = x[: a.iwae_points]
        vae.iwae(xi, a.iwae_k, a.block_rows)  # warm-up, as vae_bench's first run
        t = median_time(lambda: vae.iwae(xi, a.iwae_k, a.block_rows), a.repeat)
        print(f"torch iwae threads={a.threads} k={a.iwae_k} {a.iwae_points / t:.2f} points/s")

    if "qstar" in work:
        for p_ in vae.parameters():
            p_.requires_grad_(False)
        xq = (torch.rand(a.qstar_points, D) > 0.5).float()
        mu = torch.zeros(a.qstar_points, a.latent, requires_grad=True)
        lv = torch.zeros(a.qstar_points, a.latent, requires_grad=True)
        opt = torch.optim.Adam([mu, lv], lr=1e-3, foreach=True)
        S = a.qstar_samples

        def qstar():
            for _ in range(a.qstar_steps):
                opt.zero_grad(set_to_none=True)
                eps = torch.randn(a.qstar_points, S, a.latent)
                z = mu.unsqueeze(1) + torch.exp(0.5 * lv).unsqueeze(1) * eps
                ll = vae.log_px_given_z(xq.unsqueeze(1), vae.dec(z)).mean(1)
                kl = 0.5 * (torch.exp(lv) + mu * mu - 1.0 - lv).sum(-1)
                loss = -(ll - kl).sum()
                loss.backward()
                opt.step()

        qstar()
        t = median_time(qstar, a.repeat)
        print(f"torch qstar threads={a.threads} samples={S} "
              f"{a.qstar_points * a.qstar_steps / t:.1f} point-steps/s")

    if "ais" in work:
        for p_ in vae.parameters():
            p_.requires_grad_(False)
        xa = (torch.rand(a.ais_points, D) > 0.5).float()
        t = median_time(lambda: ais(vae, xa, a), 1)  # warm-up
        t = median_time(lambda: ais(vae, xa, a), a.repeat)
        n = a.ais_points * a.ais_chains * a.ais_temperatures * a.ais_leapfrog
        print(f"torch ais threads={a.threads} {n / t:.1f} transitions/s")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"torch peak-rss threads={a.threads} {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
