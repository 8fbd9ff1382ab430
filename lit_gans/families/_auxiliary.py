"""The shared shape of InfoGAN and AC-GAN: a discriminator whose trunk also feeds an auxiliary network."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Optional

from torch import nn

from lit_gans.errors import ConfigError
from lit_gans.families.base import AdversarialModule
from lit_gans.nets.factory import Architecture
from lit_gans.nets.heads import AuxiliaryHead, SplitCritic


class AuxiliaryCriticModule(AdversarialModule, metaclass=ABCMeta):
    """Three networks: the generator, the discriminator (an unconditional MLP or DCGAN critic taken apart
    into trunk and head, ``SplitCritic``) and an auxiliary network on the trunk's features, named by the
    family's ``auxiliary`` role and stepped by the discriminator's optimizer. ``judge`` then returns the
    auxiliary outputs beside the logits (``StepOutput.real_aux``/``fake_aux``). A family sets
    ``auxiliary_outputs``, ``auxiliary_hidden`` (units of a hidden layer in the auxiliary network) and
    ``shared_hidden`` (units of a fully connected layer on the critic's trunk that both heads read)."""

    roles = {**AdversarialModule.roles, "auxiliary": "auxiliary"}
    auxiliary_hidden = 0
    shared_hidden = 0

    @abstractmethod
    def auxiliary_outputs(self) -> int:
        """How many numbers the auxiliary network makes (AC-GAN: one logit per class)."""

    def build_networks(self, architecture: Architecture, g_width: Optional[int], d_width: Optional[int],
                       d_batch_norm: bool, input_dim: Optional[int] = None,
                       critic_classes: Optional[int] = None) -> dict[str, nn.Module]:
        if self.pack > 1:
            raise ConfigError(f"model.pack={self.pack}: {type(self).__name__}'s critic has an auxiliary head, which "
                              "packing does not support; use pack: 1")
        networks = super().build_networks(architecture, g_width, d_width, d_batch_norm, input_dim, critic_classes=0)
        critic = SplitCritic(networks[self.roles["critic"]], self.data_shape, self.shared_hidden, d_batch_norm)
        networks[self.roles["critic"]] = critic
        networks[self.roles["auxiliary"]] = AuxiliaryHead(critic.feature_dim, self.auxiliary_outputs(), self.auxiliary_hidden)
        return networks

    def optimizer_groups(self):
        groups = super().optimizer_groups()
        factory, names, scheduler = groups["discriminator"]
        groups["discriminator"] = (factory, (*names, self.roles["auxiliary"]), scheduler)
        return groups
