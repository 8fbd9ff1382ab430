"""AC-GAN (Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs")."""

from __future__ import annotations

import torch.nn.functional as F

from lit_gans.families._auxiliary import AuxiliaryCriticModule
from lit_gans.loop import Batch, StepOutput
from lit_gans.nets.factory import Architecture


class ACGAN(AuxiliaryCriticModule):
    """Odena et al. (2017): the generator reads a class label beside z; the discriminator reads no label but
    has an auxiliary classifier on its last hidden features (network ``classifier``). The discriminator
    minimises its adversarial loss plus the class loss on real and on generated samples (L_S + L_C, eq. 2-3);
    the generator minimises its adversarial loss plus the class loss on its samples. DCGAN networks, Adam
    with lr 2e-4 and beta1 0.5 (the paper's, the base's defaults), the non-saturating loss.

    Args:
        architecture: ``dcgan`` or ``mlp``.
        class_weight: weight of the class loss in both networks' objectives (the paper: 1).
        fake_class_loss: whether the discriminator's class loss also reads generated samples with the labels
            they were asked for (the paper's L_C, the default). ``False`` trains the classifier on real
            images only, as StudioGAN's AC-GAN does: the discriminator then cannot learn to call a sample
            by the class it was asked for when it looks like another, so only the generator moves towards the class.
        kwargs: the loop's other arguments (``AdversarialModule``).
    """

    roles = {**AuxiliaryCriticModule.roles, "auxiliary": "classifier"}

    def __init__(self, architecture: Architecture = "dcgan", class_weight: float = 1.0, fake_class_loss: bool = True,
                 conditional: bool = True, **kwargs):
        self.class_weight = class_weight
        self.fake_class_loss = fake_class_loss
        super().__init__(architecture=architecture, conditional=conditional, **kwargs)

    def auxiliary_outputs(self) -> int:
        return self.num_classes

    def discriminator_loss(self, batch: Batch) -> StepOutput:
        out = super().discriminator_loss(batch)
        classes = F.cross_entropy(out.real_aux, batch.label)
        if self.fake_class_loss:
            classes = classes + F.cross_entropy(out.fake_aux, out.latent.labels)
        out.logs["d/class_accuracy"] = (out.real_aux.argmax(1) == batch.label).float().mean()
        return out.add("loss/d_class", classes, self.class_weight)

    def generator_loss(self, batch: Batch) -> StepOutput:
        out = super().generator_loss(batch)
        return out.add("loss/g_class", F.cross_entropy(out.fake_aux, out.latent.labels), self.class_weight)
