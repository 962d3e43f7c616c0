"""Recurrent encoder: a stack of (bi)directional Elman RNN, LSTM, GRU or minGRU layers.

Padding never leaks into the outputs, without packing: the forward direction only looks
back, and the backward direction runs on each sequence reversed *within its length*, so
padded frames come after every valid frame in both directions.  This keeps cuDNN's fast
padded kernels (packing was ~4x slower in a CPU check) and makes an utterance's output
identical alone or padded in a batch.

A unidirectional encoder can also carry its hidden state from one call to the next
(``state``/``return_state``), as a language model reading a long text window by window does.
"""

from __future__ import annotations

from typing import Literal, Union

import torch
from torch import Tensor, nn

from seqkit.encoders.mingru import MinGRU
from seqkit.encoders.subsampling import ConvSubsampling, FrameStacking
from seqkit.masking import padding_mask

Cell = Literal["rnn", "lstm", "gru", "mingru"]
# minGRU trains in parallel over time (a scan, see mingru.py); the others step through time.
_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU, "mingru": MinGRU}
LayerState = Union[Tensor, tuple[Tensor, Tensor]]  # h (1, B, H); (h, c) for an LSTM
EncoderState = list[LayerState]  # one per layer, first layer first


def reverse_padded(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence of ``x`` (B, T, F) within its own length; padding stays at the end."""
    batch, time = x.shape[:2]
    steps = torch.arange(time, device=x.device).unsqueeze(0)  # (1, T)
    lengths = lengths.to(x.device).unsqueeze(1)  # (B, 1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)  # (B, T)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


def _flatten(rnn: nn.Module) -> None:
    if isinstance(rnn, nn.RNNBase):
        rnn.flatten_parameters()  # contiguous weights for cuDNN after DDP/replication


def _autocast_input(rnn: nn.Module, x: Tensor) -> Tensor:
    """Under CPU autocast, hand an LSTM input in the autocast dtype.

    CPU autocast casts the LSTM's weights to bf16 but not its input, and oneDNN then fails
    with "could not create a primitive descriptor for the LSTM forward propagation primitive"
    (torch 2.14).  GRU and Elman layers run as autocast decides.
    """
    if isinstance(rnn, nn.LSTM) and x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        return x.to(torch.get_autocast_dtype("cpu"))
    return x


class RecurrentLayer(nn.Module):
    """One layer: a forward RNN and, if bidirectional, a backward RNN, outputs concatenated."""

    def __init__(self, cell: Cell, input_size: int, hidden_size: int, bidirectional: bool) -> None:
        super().__init__()
        rnn_class = _CELLS[cell]
        self.forward_rnn = rnn_class(input_size, hidden_size, batch_first=True)
        self.backward_rnn = rnn_class(input_size, hidden_size, batch_first=True) if bidirectional else None

    def forward(
        self, x: Tensor, lengths: Tensor, state: LayerState | None = None, return_state: bool = False
    ) -> Tensor | tuple[Tensor, LayerState]:
        # x: (B, T, F) -> (B, T, H * directions), and the final state if ``return_state``
        _flatten(self.forward_rnn)
        x = _autocast_input(self.forward_rnn, x)
        if state is not None or return_state:
            if self.backward_rnn is not None:
                raise ValueError("only a unidirectional layer can carry a hidden state: the backward direction starts at the end")
            out, final = self.forward_rnn(x, state)
            return (out, final) if return_state else out
        out, _ = self.forward_rnn(x)
        if self.backward_rnn is None:
            return out
        _flatten(self.backward_rnn)
        back, _ = self.backward_rnn(reverse_padded(x, lengths))
        return torch.cat([out, reverse_padded(back, lengths)], dim=-1)


class RNNEncoder(nn.Module):
    """Frame stacking (or strided convolutions), then ``num_layers`` recurrent layers with
    optional LayerNorm/projection between.

    Elman cell (``cell="rnn"``): h_t = tanh(W x_t + U h_{t-1} + b).  Gated cells (LSTM, GRU)
    keep gradients alive over long sequences; stacking shortens the sequences to begin with.
    ``cell="mingru"`` has gates that read x_t only, so a layer is a parallel scan over time
    rather than T dependent steps: the fast choice on a GPU.

    ``stack_frames`` (k) shortens the input k-fold by stacking k frames; with
    ``conv_channels`` set, by log2(k) stride-2 3x3 convolutions of that many channels instead.
    """

    def __init__(
        self,
        input_size: int,
        cell: Cell = "lstm",
        hidden_size: int = 256,
        num_layers: int = 3,
        bidirectional: bool = True,
        dropout: float = 0.1,
        stack_frames: int = 1,
        layer_norm: bool = False,
        projection_size: int | None = None,
        conv_channels: int | None = None,
    ) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if num_layers < 1:
            raise ValueError("num_layers must be >= 1")
        self.subsampler: FrameStacking | ConvSubsampling = (
            FrameStacking(input_size, stack_frames)
            if conv_channels is None
            else ConvSubsampling(input_size, stack_frames, conv_channels)
        )
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        self.layers = nn.ModuleList()
        self.between = nn.ModuleList()
        size = self.subsampler.output_size
        for index in range(num_layers):
            self.layers.append(RecurrentLayer(cell, size, hidden_size, bidirectional))
            size = hidden_size * directions
            if index < num_layers - 1:
                glue: list[nn.Module] = []
                if layer_norm:
                    glue.append(nn.LayerNorm(size))
                if projection_size is not None:
                    glue.append(nn.Linear(size, projection_size))
                    size = projection_size
                glue.append(nn.Dropout(dropout))
                self.between.append(nn.Sequential(*glue))
        self.output_size = size

    @property
    def subsampling(self) -> int:
        return self.subsampler.factor

    def output_lengths(self, lengths: Tensor) -> Tensor:
        return self.subsampler.output_lengths(lengths)

    def forward(
        self, x: Tensor, lengths: Tensor, state: EncoderState | None = None, return_state: bool = False,
        tap_layer: int | None = None,
    ) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, EncoderState] | tuple[Tensor, Tensor, Tensor]:
        """x: (B, T, F), lengths: (B,) -> (B, T', output_size), (B,) [, final state | tapped output].

        ``state`` (unidirectional only): where each layer starts, as returned by an earlier
        call (None: zeros).  ``return_state``: also return the state after the last frame of
        ``x`` -- padding included, so carry it over only from full-length sequences.
        ``tap_layer`` (1 .. num_layers - 1): also return that layer's own output (B, T', H x
        directions), before the glue, padded frames zero: what an intermediate CTC loss reads.
        """
        if tap_layer is not None:
            if return_state or state is not None:
                raise ValueError("tap_layer and a carried state do not go together")
            if not 1 <= tap_layer < len(self.layers):
                raise ValueError(f"tap_layer must be 1 .. {len(self.layers) - 1} (a layer below the last), got {tap_layer}")
        stateful = state is not None or return_state
        if stateful and self.bidirectional:
            raise ValueError("only a unidirectional encoder can carry a hidden state: the backward direction starts at the end")
        if state is not None and len(state) != len(self.layers):
            raise ValueError(f"state has {len(state)} layer(s), the encoder {len(self.layers)}")
        x, lengths = self.subsampler(x, lengths)
        finals: EncoderState = []
        for index, layer in enumerate(self.layers):
            if stateful:
                x, final = layer(x, lengths, None if state is None else state[index], return_state=True)
                finals.append(final)
            else:
                x = layer(x, lengths)
            if index + 1 == tap_layer:
                tapped = x
            if index < len(self.between):
                x = self.between[index](x)
        # Zero padded frames so nothing downstream can read them.
        mask = padding_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1).to(x.dtype)  # (B, T', 1)
        if tap_layer is not None:
            return x * mask, lengths, tapped * mask
        return (x * mask, lengths, finals) if return_state else (x * mask, lengths)


def detach_state(state: EncoderState) -> EncoderState:
    """The same state, cut from the graph that computed it (truncated backpropagation through time)."""
    return [tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach() for s in state]
