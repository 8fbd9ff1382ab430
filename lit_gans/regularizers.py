"""Critic regularisers: weight clipping, gradient penalties and spectral normalisation.

Penalties take ``critic``, a callable from a batch of samples to logits ``(N,)`` (bind class
labels with a lambda for conditional critics), and return the unweighted penalty; the caller
multiplies by its weight.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

Critic = Callable[[Tensor], Tensor]


@torch.no_grad()
def clip_weights(module: nn.Module, clip_value: float, high: Optional[float] = None) -> None:
    """Clamp every parameter of ``module`` to ``[-clip_value, clip_value]`` (WGAN, Arjovsky et al. 2017), or with
    ``high`` to the box ``[clip_value, high]`` (asymmetric when ``-clip_value != high``: Relaxed WGAN's ``dual: clip``)."""
    low, high = (-clip_value, clip_value) if high is None else (clip_value, high)
    for p in module.parameters():
        p.clamp_(low, high)


def _input_gradient(critic: Critic, x: Tensor) -> Tensor:
    x = x.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)||_2 - 1)^2] on random interpolates x_hat."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    return (_input_gradient(critic, x_hat).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(critic: Critic, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): E[||grad D(x)||^2] on real data; weight it by gamma / 2."""
    return _input_gradient(critic, real).pow(2).sum(1).mean()


def r2_penalty(critic: Critic, fake: Tensor) -> Tensor:
    """R2 (Mescheder et al. 2018): E[||grad D(G(z))||^2] on generated data; weight it by gamma / 2."""
    return _input_gradient(critic, fake).pow(2).sum(1).mean()


SPECTRAL_NORM_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every linear, convolution and embedding weight.

    Uses ``torch.nn.utils.parametrizations.spectral_norm``; layers already normalised are left alone.
    """
    for layer in list(module.modules()):
        if isinstance(layer, SPECTRAL_NORM_LAYERS) and not _is_parametrized(layer):
            spectral_norm(layer)
    return module


def _is_parametrized(layer: nn.Module) -> bool:
    return hasattr(layer, "parametrizations") and "weight" in layer.parametrizations


def spectral_norm_layers(module: nn.Module) -> list[tuple[nn.Module, str]]:
    """``(layer, tensor name)`` of every spectrally normalised tensor in ``module``
    (``torch.nn.utils.parametrizations.spectral_norm``, known by its singular-vector buffers ``_u`` and ``_v``:
    torch has no public type or predicate for that parametrisation)."""
    return [(layer, name) for layer in module.modules() if parametrize.is_parametrized(layer)
            for name, chain in layer.parametrizations.items()
            if any(hasattr(p, "_u") and hasattr(p, "_v") for p in chain)]


@torch.no_grad()
def refresh_spectral_norms(layers: list[tuple[nn.Module, str]], iterations: int = 1) -> None:
    """Power iterations on each spectrally normalised tensor's current weight, so that its stored singular
    vectors, which an eval-mode forward divides by without iterating, are that weight's own.

    An average of weights needs this: its vectors are averages of the source's vectors (of other weights), and
    in a BigGAN generator they put some layers' estimated spectral norm at an eighth of the true one, which
    blew those layers up and left the EMA's samples far worse than the raw generator's (the raw vectors jump
    between nearly equal singular directions, and an average of unit vectors that point different ways is
    short). One iteration per average update tracks the slowly moving average, as training's forward passes
    track the raw weights; more iterations repair an average saved by an earlier version, which averaged them."""
    for layer, name in layers:
        chain = layer.parametrizations[name]
        was_training = chain.training
        chain.train()  # torch's spectral norm runs its power iteration when it computes the tensor in training mode
        for _ in range(iterations):
            getattr(layer, name)
        chain.train(was_training)


def orthogonal_penalty(module: nn.Module) -> Tensor:
    """BigGAN's orthogonal regularisation (Brock et al. 2019, eq. 3): sum over weight matrices W (each
    flattened to (out, in)) of ||W W^T * (1 - I)||_F^2, skipping 1-D parameters and embeddings."""
    skip = {id(p) for m in module.modules() if isinstance(m, nn.Embedding) for p in m.parameters(recurse=False)}
    total = None
    for p in module.parameters():
        if p.dim() < 2 or id(p) in skip:
            continue
        w = p.flatten(1)
        gram = w @ w.t()
        off = (gram * (1 - torch.eye(w.shape[0], device=w.device, dtype=w.dtype))).pow(2).sum()
        total = off if total is None else total + off
    if total is None:
        raise ValueError("orthogonal_penalty found no weight matrix to regularise")
    return total
