"""PyTorch's AdamW and linear warmup/decay, written for Keras 3, so both trainers take the same steps.

Keras's own Adam folds the bias correction into the learning rate and adds epsilon to the raw
sqrt(v) ("epsilon hat"): at step 1 its epsilon is worth 1/sqrt(1 - beta_2) = 32 times PyTorch's.
`TorchAdam` keeps Keras's decoupled weight decay (`w -= lr * wd * w` before the update, as
`torch.optim.AdamW` does) and replaces the update itself with PyTorch's:
`w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`.

Embedding gradients reach Keras as `tf.IndexedSlices`, one row per token of the batch, and Keras's
`global_clipnorm` squares those rows before summing the duplicates ([CLS] eight times in a batch
of eight, token type 0 everywhere): the norm it clips by was 1.06 where the true one was 0.14, so
it clipped steps PyTorch leaves alone. `TorchAdam` makes them dense first, as PyTorch's are.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


class TorchAdam(keras.optimizers.Adam):
    """Adam (weight_decay=None) or AdamW (weight_decay > 0) with `torch.optim.AdamW`'s update."""

    def _clip_gradients(self, grads):
        dense = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        return super()._clip_gradients(dense)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        correction1 = 1 - ops.power(ops.cast(self.beta_1, dtype), step)
        correction2 = 1 - ops.power(ops.cast(self.beta_2, dtype), step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        denom = ops.add(ops.divide(ops.sqrt(v), ops.sqrt(correction2)), self.epsilon)
        self.assign_sub(variable, ops.divide(ops.multiply(m, lr / correction1), denom))


class LinearWarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The PyTorch trainer's LambdaLR factor at optimizer step `step` (0-based), times `peak`."""

    def __init__(self, peak: float, warmup: int, total: int) -> None:
        self.peak, self.warmup, self.total = peak, warmup, total

    def __call__(self, step):
        step = ops.cast(step, "float32")
        up = (step + 1.0) / max(1, self.warmup)
        down = (self.total - step) / max(1, self.total - self.warmup)
        factor = ops.where(step < self.warmup, up, ops.maximum(0.0, down))
        return self.peak * factor

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total}


def make_optimizer(name: str, schedule: LinearWarmupDecay, weight_decay: float,
                   grad_accum: int) -> TorchAdam:
    """The optimizer the PyTorch trainer's `make_optimizer` builds, with the same decay groups:
    no decay on biases and LayerNorm (Keras calls its weights gamma and beta)."""
    kwargs = {"learning_rate": schedule, "epsilon": 1e-8, "global_clipnorm": 1.0}
    if grad_accum > 1:
        kwargs["gradient_accumulation_steps"] = grad_accum
    if name == "adam":
        if weight_decay:
            print(f"note: optimizer=adam ignores weight_decay={weight_decay}")
        return TorchAdam(**kwargs)
    optimizer = TorchAdam(weight_decay=weight_decay, **kwargs)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer
