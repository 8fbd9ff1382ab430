"""lit-gans: GAN families as PyTorch Lightning modules, one adversarial loop, YAML-configured."""

import os

# albumentations asks PyPI for a newer version whenever it is imported (up to 2 s, a warning on machines without
# internet, once in every DataLoader worker and DDP rank); its documented switch turns that off unless the user
# has set it either way.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
