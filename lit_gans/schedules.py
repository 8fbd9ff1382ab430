"""Learning-rate schedules in generator iterations, for YAML's ``g_scheduler`` / ``d_scheduler``.

The loop steps every scheduler once per generator iteration (``AdversarialModule._after_generator_step``),
so their arguments count generator iterations, the unit of ``max_g_steps``:

.. code-block:: yaml

    g_scheduler:
      class_path: lit_gans.schedules.LinearDecay
      init_args: {constant_steps: 100000, decay_steps: 100000}
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from lit_gans.errors import ConfigError


class LinearDecay(LambdaLR):
    """The learning rate of pix2pix and CycleGAN (Isola et al. 2017; Zhu et al. 2017): constant for
    ``constant_steps`` generator iterations, then falling linearly to 0 over ``decay_steps`` more (the papers:
    100 epochs each for CycleGAN; 0 at the end, and 0 after it).

    Args:
        optimizer: the optimizer (given by the loop).
        constant_steps: generator iterations at the initial learning rate.
        decay_steps: generator iterations of the linear decay to 0; 0 keeps the rate constant throughout.
    """

    def __init__(self, optimizer: Optimizer, constant_steps: int, decay_steps: int, last_epoch: int = -1):
        if constant_steps < 0 or decay_steps < 0:
            raise ConfigError(f"LinearDecay(constant_steps={constant_steps}, decay_steps={decay_steps}): both must be >= 0 "
                              "generator iterations")
        self.constant_steps, self.decay_steps = int(constant_steps), int(decay_steps)
        super().__init__(optimizer, self.factor, last_epoch=last_epoch)

    def factor(self, step: int) -> float:
        """The multiple of the initial learning rate after ``step`` generator iterations."""
        if self.decay_steps == 0 or step <= self.constant_steps:
            return 1.0
        return max(0.0, 1.0 - (step - self.constant_steps) / self.decay_steps)

    def state_dict(self) -> dict:
        # LambdaLR stores lambdas that are plain functions; ours is a bound method, rebuilt from the arguments
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


__all__ = ["LinearDecay"]
