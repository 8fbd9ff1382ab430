"""Modes covered on stacked digits (``datamodules.StackedDigitsDataModule``): 1,000 modes.

The convention of the stacked-MNIST benchmark: a pretrained digit classifier labels each of the
three channels of a generated image, the three digits name one of 1,000 modes, and the generator is
scored by the number of modes that receive at least one sample and by the KL divergence of the
generated mode histogram from uniform (the data's distribution). Metz et al. (2017, Unrolled GAN)
count over 25,600 samples, Srivastava et al. (2017, VEEGAN, Table 2) and Lin et al. (2018, PacGAN,
Table 3) over 26,000. Here the classifier is the shipped ``digits`` domain network and the digits
are scikit-learn's 8x8 ones, so figures are comparable in kind, not in value, with the 28 px MNIST
papers.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from lit_gans.errors import ConfigError
from lit_gans.metrics.domain import DomainNetwork, load_domain_network
from lit_gans.metrics.modes import uniform_kl

N_MODES = 1000


@torch.no_grad()
def stacked_classes(samples: Tensor, network: Optional[DomainNetwork] = None, batch_size: int = 1024) -> Tensor:
    """The mode ``100 a + 10 b + c`` of each image (N, 3, S, S) in [-1, 1], on the CPU."""
    if samples.dim() != 4 or samples.shape[1] != 3:
        raise ConfigError(f"stacked digits are (N, 3, S, S) images, got {tuple(samples.shape)}")
    network = network if network is not None else load_domain_network("digits", map_location=samples.device)
    was_training = network.training
    network.eval()
    try:
        digits = [
            network(chunk.reshape(-1, 1, *chunk.shape[2:])).argmax(dim=1).view(-1, 3).cpu()
            for chunk in samples.detach().split(batch_size)
        ]
    finally:
        network.train(was_training)
    digits = torch.cat(digits) if digits else torch.zeros(0, 3, dtype=torch.long)
    return digits @ torch.tensor([100, 10, 1])


def stacked_modes(samples: Tensor, network: Optional[DomainNetwork] = None) -> dict[str, float]:
    """``modes``: distinct 3-digit classes among ``samples`` (out of 1,000); ``reverse_kl``:
    KL(p_model || uniform over 1,000), from 0 (every mode equally often) to log 1000 = 6.91 (one
    mode). Each channel is classified by ``network`` (default: the shipped ``digits`` network)."""
    counts = torch.bincount(stacked_classes(samples, network), minlength=N_MODES)
    return {"modes": int((counts > 0).sum()), "reverse_kl": uniform_kl(counts, N_MODES)}
