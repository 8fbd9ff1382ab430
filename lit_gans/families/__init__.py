"""GAN families: LightningModules holding one paper's recipe on top of ``AdversarialModule``.

``FAMILIES`` generate from noise; ``TRANSLATION_FAMILIES`` translate images (``lit_gans.families._translation``);
``SINGLE_IMAGE_FAMILIES`` learn the patches of one image."""

from lit_gans.families.acgan import ACGAN
from lit_gans.families.base import AdversarialModule
from lit_gans.families.began import BEGAN
from lit_gans.families.biggan import BigGAN
from lit_gans.families.cgan import CGAN
from lit_gans.families.cgan_pd import CGANPD
from lit_gans.families.context_encoder import ContextEncoder
from lit_gans.families.cramer_gan import CramerGAN
from lit_gans.families.cyclegan import CycleGAN
from lit_gans.families.dcgan import DCGAN
from lit_gans.families.deligan import DeLiGAN
from lit_gans.families.ebgan import EBGAN
from lit_gans.families.fisher_gan import FisherGAN
from lit_gans.families.gan import GAN
from lit_gans.families.gmmn import GMMN
from lit_gans.families.infogan import InfoGAN
from lit_gans.families.lsgan import LSGAN
from lit_gans.families.magan import MAGAN
from lit_gans.families.mcgan import McGAN
from lit_gans.families.mmd_gan import MMDGAN
from lit_gans.families.pix2pix import Pix2Pix
from lit_gans.families.progan import ProGAN
from lit_gans.families.relaxed_wgan import RelaxedWGAN
from lit_gans.families.sagan import SAGAN
from lit_gans.families.singan import SinGAN
from lit_gans.families.sngan import SNGAN
from lit_gans.families.srgan import SRGAN
from lit_gans.families.stylegan import StyleGAN
from lit_gans.families.wgan import WGAN
from lit_gans.families.wgan_gp import WGANGP

#: the objective flavours (issue 14): GMMN has no critic; MMD GAN, Cramér GAN, McGAN and Fisher GAN read a feature
#: vector from theirs; EBGAN, BEGAN and MAGAN judge by an autoencoder's reconstruction error
OBJECTIVE_FLAVOURS = (GMMN, MMDGAN, CramerGAN, McGAN, FisherGAN, RelaxedWGAN, EBGAN, BEGAN, MAGAN)
FAMILIES = {cls.__name__: cls for cls in (GAN, DCGAN, WGAN, WGANGP, LSGAN, SNGAN, CGAN, DeLiGAN, ACGAN, InfoGAN, CGANPD, SAGAN, BigGAN, ProGAN, StyleGAN,
                                          *OBJECTIVE_FLAVOURS)}
#: the image-to-image families: they translate images and do not sample from noise (``TranslationModule``)
TRANSLATION_FAMILIES = {cls.__name__: cls for cls in (Pix2Pix, CycleGAN, SRGAN, ContextEncoder)}
#: families that learn one image (``SinGAN``): they sample from noise, but not from a dataset's distribution
SINGLE_IMAGE_FAMILIES = {cls.__name__: cls for cls in (SinGAN,)}

__all__ = ["ACGAN", "BEGAN", "FAMILIES", "GMMN", "MAGAN", "MMDGAN", "OBJECTIVE_FLAVOURS", "AdversarialModule", "BigGAN", "CGAN", "CGANPD",
           "ContextEncoder", "CramerGAN", "CycleGAN", "DCGAN", "DeLiGAN", "EBGAN", "FisherGAN", "GAN", "InfoGAN", "LSGAN", "McGAN",
           "Pix2Pix", "ProGAN", "RelaxedWGAN", "SAGAN", "SINGLE_IMAGE_FAMILIES", "SNGAN", "SinGAN", "SRGAN", "StyleGAN",
           "TRANSLATION_FAMILIES", "WGAN", "WGANGP"]
