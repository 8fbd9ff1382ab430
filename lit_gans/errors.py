"""Errors meant for users: each message names the bad value and the fix, in one line."""


class LitGansError(Exception):
    """Base of the errors the CLI prints as one line instead of a traceback."""


class ConfigError(LitGansError, ValueError):
    """A configuration value that cannot work."""


class DatasetNotFoundError(LitGansError, FileNotFoundError):
    """A dataset that is not where the config says."""


class NonFiniteLossError(LitGansError, FloatingPointError):
    """A loss became NaN or infinite; the run stopped before the weights were updated with it."""


class CheckpointError(LitGansError, ValueError):
    """A checkpoint that cannot be read or was not written by lit-gans."""


class DivergenceError(LitGansError, FloatingPointError):
    """Weights grew past ``model.max_weight`` or stopped being finite; no checkpoint holds them."""
