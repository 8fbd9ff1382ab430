"""lit-gans: GAN families as PyTorch Lightning modules, one adversarial loop, YAML-configured."""

__version__ = "0.1.0"
