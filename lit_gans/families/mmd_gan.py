"""MMD GAN (Li et al. 2017, "MMD GAN: Towards Deeper Understanding of Moment Matching Network"), in the
gradient-penalty form of Bińkowski et al. (2018, "Demystifying MMD GANs")."""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import Iterator, Literal, Optional, Sequence

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn

from lit_gans.errors import ConfigError
from lit_gans.families._kernels import Kernel, gaussian_kernel, mmd2, rational_quadratic_kernel, witness
from lit_gans.families.base import AdversarialModule, adam
from lit_gans.loop import Batch, StepOutput

KernelName = Literal["rq_linear", "rq", "gaussian"]


def make_kernel(name: KernelName, alphas: Sequence[float], sigmas: Sequence[float]) -> Kernel:
    """The kernel on critic features: ``rq_linear`` (Bińkowski et al.'s mixture of rational-quadratic
    kernels plus a linear term), ``rq`` (without it) or ``gaussian`` (Li et al. 2017's mixture of RBFs)."""
    if name == "rq_linear":
        return partial(rational_quadratic_kernel, alphas=tuple(alphas), linear=1.0)
    if name == "rq":
        return partial(rational_quadratic_kernel, alphas=tuple(alphas))
    if name == "gaussian":
        return partial(gaussian_kernel, sigmas=tuple(sigmas))
    raise ConfigError(f"model.kernel={name!r} is unknown; choose rq_linear (Bińkowski et al.), rq or gaussian")


def mmd_critic_loss(real_features: Tensor, fake_features: Tensor, kernel: Kernel) -> Tensor:
    """The critic maximises the unbiased MMD^2 between real and generated features: it minimises ``-MMD^2``."""
    return -mmd2(real_features, fake_features, kernel, unbiased=True)


def mmd_generator_loss(real_features: Tensor, fake_features: Tensor, kernel: Kernel) -> Tensor:
    """The generator minimises the unbiased MMD^2 between real and generated features."""
    return mmd2(real_features, fake_features, kernel, unbiased=True)


class FeatureCriticModule(AdversarialModule):
    """The shape shared by the feature-critic families (MMD GAN, Cramér GAN): the critic is the MLP or
    DCGAN discriminator with ``features`` outputs (``critic_outputs``), a vector per sample instead of one logit; what the
    family's losses compare are these vectors. Unconditional. ``critic_fn`` (what penalties
    differentiate) is the family's scalar critic, defined from the features of the current critic step."""

    def __init__(self, features: int, **kwargs):
        if features < 1:
            raise ConfigError(f"model.features={features} must be at least 1 (the critic's output size)")
        if kwargs.get("conditional"):
            raise ConfigError(f"{type(self).__name__} is unconditional here: remove model.conditional")
        self.features = self.critic_outputs = int(features)
        self._reference: tuple[Tensor, ...] = ()  # the current critic step's features, for critic_fn
        super().__init__(**kwargs)

    def features_of(self, x: Tensor) -> Tensor:
        """The critic's feature vectors (N, features), in at least float32 for the distances."""
        h = self.judge(x, None)[0]
        return h.to(torch.promote_types(h.dtype, torch.float32)).reshape(len(x) // self.pack, -1)


@contextmanager
def activations_of(network: nn.Module, record: bool = True) -> Iterator[list[Tensor]]:
    """The outputs of ``network``'s activation layers (ReLU, LeakyReLU, ELU) during the block, in call order."""
    outputs: list[Tensor] = []
    handles = [m.register_forward_hook(lambda module, args, output: outputs.append(output))
               for m in network.modules() if record and isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.ELU))]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def activation_l2(activations: Sequence[Tensor]) -> Tensor:
    """Bińkowski et al.'s L2 penalty on a critic's activations: for each layer's output (N, ...), each sample's
    mean squared activation, averaged over the batch; summed over the layers."""
    return sum(a.float().flatten(1).pow(2).mean(1).mean() for a in activations)


class MMDGAN(FeatureCriticModule):
    """Bińkowski et al. (2018): the critic h maps samples to ``features`` numbers (16, as their MMD GANs);
    the kernel k on them is a mixture of rational-quadratic kernels (alphas 0.2, 0.5, 1, 2, 5) plus a
    linear term (``rq_linear``); the critic maximises the unbiased MMD^2 between real and generated
    features, the generator minimises it, and the critic's loss carries a gradient penalty of weight 1
    on the witness function ``f(x) = mean_j k(h(x), h(x_j)) - mean_j k(h(x), h(G(z_j)))`` at random
    interpolates of real and generated samples, ``(||grad f(x_hat)|| - 1)^2`` (their section 2.2, as in
    WGAN-GP), and an L2 penalty of weight 1 on the critic's activations (their footnote to section 5 and
    ``L2_discriminator_penalty`` in their code: for real and generated batches alike, the sum over the
    critic's activation layers and its output of each sample's mean squared activation, averaged over the
    batch; ``activation_penalty``). ``n_critic = 5``, Adam with lr 1e-4 and betas (0.5, 0.9) for both
    networks, no batch norm in the critic (a per-sample penalty). Not reproduced from their code: the
    per-variable clipping of gradients to norm 1 and the learning-rate decay when the KID stops improving.
    Li et al.'s original MMD GAN (an autoencoding critic, weight clipping and Gaussian kernels) is not
    reproduced either; its kernel is ``kernel: gaussian``.

    Args:
        features: the critic's output size.
        kernel: ``rq_linear``, ``rq`` or ``gaussian``.
        alphas: the rational-quadratic kernels' alphas.
        sigmas: the Gaussian kernels' bandwidths (``kernel: gaussian``; Li et al.: 1, 2, 4, 8, 16).
        gradient_penalty: weight of the penalty on the witness function (lit_gans.penalties.GradientPenalty
            on ``critic_fn``, which here is the witness function).
        activation_penalty: weight of the L2 penalty on the critic's activations (0 disables it).
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    def __init__(
        self,
        features: int = 16,
        kernel: KernelName = "rq_linear",
        alphas: Sequence[float] = (0.2, 0.5, 1.0, 2.0, 5.0),
        sigmas: Sequence[float] = (1.0, 2.0, 4.0, 8.0, 16.0),
        gradient_penalty: float = 1.0,
        activation_penalty: float = 1.0,
        n_critic: int = 5,
        d_batch_norm: bool = False,
        g_optimizer: Optional[OptimizerCallable] = None,
        d_optimizer: Optional[OptimizerCallable] = None,
        **kwargs,
    ):
        if not alphas or any(not a > 0 for a in alphas) or not sigmas or any(not s > 0 for s in sigmas):
            raise ConfigError(f"model.alphas={list(alphas)} and model.sigmas={list(sigmas)} must list numbers > 0 "
                              "(Bińkowski et al.: alphas [0.2, 0.5, 1, 2, 5])")
        if activation_penalty < 0:
            raise ConfigError(f"model.activation_penalty={activation_penalty} must be >= 0 (0 disables it; Bińkowski et al.: 1)")
        self.kernel_name, self.alphas, self.sigmas = kernel, tuple(alphas), tuple(sigmas)
        self.activation_penalty = float(activation_penalty)
        self.kernel = make_kernel(kernel, alphas, sigmas)
        super().__init__(
            features=features, gradient_penalty=gradient_penalty, n_critic=n_critic, d_batch_norm=d_batch_norm,
            g_optimizer=g_optimizer or adam(1e-4, (0.5, 0.9)), d_optimizer=d_optimizer or adam(1e-4, (0.5, 0.9)),
            **kwargs,
        )

    def critic_fn(self, labels: Optional[Tensor]):
        """The witness function of the current critic step's features (what the gradient penalty, or R1/R2,
        differentiates)."""
        real, fake = self._reference
        return lambda x: witness(self.features_of(x), real, fake, self.kernel)

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        latent = self.latent_spec.draw(len(batch), self.device)
        with torch.no_grad():
            fake = self.generate(latent)
        with activations_of(self.network("critic"), record=self.activation_penalty > 0) as activations:
            real_features, fake_features = self.features_of(batch.image), self.features_of(fake)
        self._reference = (real_features, fake_features)
        loss = mmd_critic_loss(real_features, fake_features, self.kernel)
        out = StepOutput(loss, {"loss/d": loss.detach(), "mmd2": -loss.detach()}, latent, fake, fake_features, None,
                         batch.image, None, real_features)
        if self.activation_penalty > 0:
            out.add("penalty/activations", activation_l2(activations + [real_features, fake_features]),
                    self.activation_penalty)
        return out

    def generator_loss(self, batch: Batch) -> StepOutput:
        latent = self.latent_spec.draw(len(batch), self.device)
        fake = self.generate(latent)
        fake_features = self.features_of(fake)
        with torch.no_grad():
            real_features = self.features_of(batch.image)
        loss = mmd_generator_loss(real_features, fake_features, self.kernel)
        return StepOutput(loss, {"loss/g": loss.detach()}, latent, fake, fake_features, None, batch.image, None,
                          real_features)

    @torch.no_grad()
    def _validate(self, batch: Batch) -> None:
        n = len(batch) - len(batch) % self.pack
        if n // self.pack < 2:
            return
        real = self.features_of(batch.image[:n])
        fake = self.features_of(self.sample(n))
        self.log("val/mmd2", mmd2(real, fake, self.kernel), batch_size=n, sync_dist=True)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel_name}, features={self.features}, n_critic={self.n_critic}"


__all__ = ["FeatureCriticModule", "MMDGAN", "make_kernel", "mmd_critic_loss", "mmd_generator_loss"]
