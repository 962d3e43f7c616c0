"""Features for inputs that already are one feature vector per step.

UEA series, keypoint tracks and precomputed ``.npy`` frame features need no extraction:
``(B, T, F), (B,) -> (B, T, F), (B,)``, with the padded steps zeroed.
"""

from __future__ import annotations

from torch import Tensor, nn

from seqkit.masking import padding_mask


class PrecomputedFeatures(nn.Module):
    """Identity features.  ``input_size`` 0 means "the data module's", set by the task."""

    def __init__(self, input_size: int = 0) -> None:
        super().__init__()
        self.set_input_size(input_size)

    def set_input_size(self, input_size: int) -> None:
        self.input_size = self.output_size = input_size

    def forward(self, inputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        # inputs: (B, T, F), lengths: (B,) -> (B, T, F), (B,)
        if inputs.ndim != 3 or inputs.shape[-1] != self.input_size:
            raise ValueError(
                f"expected inputs (B, T, {self.input_size}), got {tuple(inputs.shape)}; "
                "input_size comes from the data module's input_size"
            )
        # Padding must be zero: the encoder's frame stacking folds it into the last valid stack.
        return inputs * padding_mask(lengths, inputs.shape[1]).unsqueeze(-1).to(inputs.dtype), lengths
