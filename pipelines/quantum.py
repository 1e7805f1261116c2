"""Quantum-inspired encoding of activations and the unitary operators that act on it.

An activation a (d_model reals) becomes a state psi = P(a - mu) / |P(a - mu)|, with P a fixed
seeded complex projection to `quantum_dim` >= d_model dimensions; the decoder inverts it with
P's pseudo-inverse and the saved norm. Centring on mu matters: uncentred, every activation
shares one large mean direction and the identity already scores fidelity ~0.997.

Operators are U = exp(A - A^H): the exponential of a skew-Hermitian matrix is unitary by
construction, so no projection step is needed during training. Training maximises
Re<target|U psi>, not |<target|U psi>|^2: fidelity ignores the global phase, but the real-part
decoder does not (a phase of pi flips the decoded activation's sign).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from .progress import progress


NORM_MARGIN = 2.0  # the operator acts on activations up to this x the largest trained on


@dataclass
class Encoder:
    proj: torch.Tensor  # complex64 (quantum_dim, d_model)
    pinv: torch.Tensor  # complex64 (d_model, quantum_dim)
    mean: torch.Tensor  # float32 (d_model,)
    # Largest centred norm the operators may act on: a real LM's first position (attention
    # sink) is ~150x the others (SmolLM2 layer 12: 22,705 against ~140). Training never
    # sees it, and the decoder scales the rotated state back by that norm, so steering
    # it breaks every word after (fluency ratio 3-13 measured).
    max_norm: float = float("inf")

    @property
    def quantum_dim(self) -> int:
        return self.proj.shape[0]

    def to(self, device: str) -> "Encoder":
        return Encoder(self.proj.to(device), self.pinv.to(device), self.mean.to(device),
                       self.max_norm)

    def encode(self, acts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(..., d_model) real -> normalized states (..., quantum_dim) and their norms."""
        z = (acts.float() - self.mean).to(torch.complex64) @ self.proj.T
        norm = z.abs().pow(2).sum(-1, keepdim=True).sqrt().clamp_min(1e-12)
        return z / norm, norm

    def decode(self, psi: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
        return ((psi * norm) @ self.pinv.T).real + self.mean

    def in_range(self, acts: torch.Tensor) -> torch.Tensor:
        """Per activation: whether its centred norm is within what the operators may touch."""
        return (acts.float() - self.mean).norm(dim=-1, keepdim=True) <= self.max_norm

    def state_dict(self) -> dict:
        return {"proj": self.proj, "pinv": self.pinv, "mean": self.mean,
                "max_norm": self.max_norm}

    @classmethod
    def from_state(cls, state: dict) -> "Encoder":
        # encodings saved before the norm limit existed steer every activation, as they did
        return cls(state["proj"], state["pinv"], state["mean"],
                   state.get("max_norm", float("inf")))


def make_encoder(mean: torch.Tensor, quantum_dim: int, seed: int,
                 max_norm: float = float("inf")) -> Encoder:
    """A fixed random complex projection; entries ~ CN(0, 1/quantum_dim) keep norms O(1)."""
    d = mean.shape[0]
    g = torch.Generator().manual_seed(seed)
    re = torch.randn(quantum_dim, d, generator=g)
    im = torch.randn(quantum_dim, d, generator=g)
    proj = torch.complex(re, im) / math.sqrt(2 * quantum_dim)
    return Encoder(proj, torch.linalg.pinv(proj), mean.float().clone(), max_norm)


def fit_encoder(acts: torch.Tensor, quantum_dim: int, seed: int) -> Encoder:
    """The encoder of phase 1: centred on the training activations (n, d_model), limited to
    NORM_MARGIN x their largest centred norm."""
    mean = acts.float().mean(0)
    top = float((acts.float() - mean).norm(dim=-1).max())
    return make_encoder(mean, quantum_dim, seed, NORM_MARGIN * top)


class UnitaryOperator(torch.nn.Module):
    """U = exp(A - A^H), starting at the identity (A = 0). Given an orthonormal `basis`
    (dim x k), the rotation is confined to that subspace, U = I + V (exp(A - A^H) - I) V^H,
    still exactly unitary: A is k x k, so training costs a k x k matrix exponential instead
    of a dim x dim one (428 s an operator at dim 1152 on 2 cores; see `sentiment_basis`)."""

    def __init__(self, dim: int, basis: torch.Tensor | None = None):
        super().__init__()
        k = dim if basis is None else basis.shape[1]
        self.a = torch.nn.Parameter(torch.zeros(k, k, dtype=torch.complex64))
        self.register_buffer("basis", basis)

    def rotation(self) -> torch.Tensor:
        return torch.linalg.matrix_exp(self.a - self.a.conj().T)

    def matrix(self) -> torch.Tensor:
        """The full dim x dim U, as the later phases use it."""
        r = self.rotation()
        if self.basis is None:
            return r
        v = self.basis
        eye = torch.eye(v.shape[0], dtype=r.dtype, device=r.device)
        return eye + v @ (r - torch.eye(r.shape[0], dtype=r.dtype, device=r.device)) @ v.conj().T

    def forward(self, psi: torch.Tensor) -> torch.Tensor:
        """U applied to row states without forming U: psi + ((psi V*) (R - I)^T) V^T."""
        r = self.rotation()
        if self.basis is None:
            return apply(r, psi)
        v = self.basis
        delta = r - torch.eye(r.shape[0], dtype=r.dtype, device=r.device)
        return psi + ((psi @ v.conj()) @ delta.T) @ v.T


def sentiment_basis(source: torch.Tensor, target: torch.Tensor, rank: int
                    ) -> tuple[torch.Tensor, float]:
    """The `rank` directions along which training targets differ most from their sources
    (top right singular vectors of target - source, as columns), and the share of that
    difference's energy they hold. A rotation outside them could not move a source towards
    its target, so little is lost; training data only, never evaluation prompts."""
    _, s, vh = torch.linalg.svd(target - source, full_matrices=False)
    k = min(rank, vh.shape[0])
    energy = float(s[:k].pow(2).sum() / s.pow(2).sum().clamp_min(1e-30))
    return vh[:k].T.contiguous(), energy


def apply(u: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    """U applied to a batch of row states: one complex matmul for the whole batch."""
    return psi @ u.T


def fidelity(u: torch.Tensor | None, source: torch.Tensor, target: torch.Tensor) -> float:
    """Mean |<target|U source>|^2; `u=None` is the identity (what doing nothing scores)."""
    out = source if u is None else apply(u, source)
    return float((target.conj() * out).sum(-1).abs().pow(2).mean())


def unitarity_error(u: torch.Tensor) -> float:
    """||U^H U - I|| (Frobenius): zero for an exact unitary, float error otherwise."""
    eye = torch.eye(u.shape[0], dtype=u.dtype, device=u.device)
    return float(torch.linalg.matrix_norm(u.conj().T @ u - eye))


@dataclass
class TrainConfig:
    epochs: int
    lr: float  # Adam moves every entry of A by ~lr a step: keep it small for large dims
    target_fidelity: float


def train_operator(op: UnitaryOperator, source: torch.Tensor, target: torch.Tensor,
                   cfg: TrainConfig, start_epoch: int = 0, optimizer_state: dict | None = None,
                   on_epoch: Callable[[int, float, float, dict], None] | None = None,
                   label: str = "operator", offset: int = 0, of: int | None = None) -> int:
    """Full-batch Adam on 1 - Re<target|U source>. Calls `on_epoch(epoch, fidelity, loss,
    optimizer_state)` after each epoch; stops at the target fidelity. Returns the epochs done.
    `offset` and `of` place its epochs in the phase's whole count (several operators)."""
    opt = torch.optim.Adam(op.parameters(), lr=cfg.lr)
    if optimizer_state:
        opt.load_state_dict(optimizer_state)
    epoch = start_epoch
    with progress(label, total=cfg.epochs - start_epoch, offset=offset + start_epoch,
                  of=of) as bar:
        while epoch < cfg.epochs:
            overlap = (target.conj() * op(source)).sum(-1)
            loss = 1 - overlap.real.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            epoch += 1
            fid = float(overlap.detach().abs().pow(2).mean())
            bar.advance(1, f"fidelity {fid:.4f}")
            if on_epoch:
                on_epoch(epoch, fid, float(loss.detach()), opt.state_dict())
            if fid >= cfg.target_fidelity:
                break
    return epoch
