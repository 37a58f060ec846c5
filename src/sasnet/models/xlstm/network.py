"""A causal xLSTM sequence encoder (Beck et al., 2024, "xLSTM: Extended Long Short-Term Memory").

A stack of residual pre-norm blocks from the ``xlstm`` package: mLSTM blocks (matrix memory, computed in parallel
form with a causal decay mask) and, at the indices in ``slstm_blocks``, sLSTM blocks (scalar memory with recurrent
mixing, each followed by a gated feed-forward). Both are causal, so the output at position t depends only on the
inputs at positions <= t: for a next-item recommender, position t's output predicts item t + 1. The stack ends in
a LayerNorm.

CPU settings (the package's defaults assume a GPU):

- sLSTM ``backend="vanilla"``: the pure-torch time loop; the default ``"cuda"`` JIT-compiles a CUDA kernel.
- mLSTM: the block stack's mLSTM layer always uses the package's pure-torch parallel form
  (``parallel_stabilized_simple``); the triton kernels of ``mlstm-kernels`` are used only by ``xlstm_large``,
  which this encoder does not touch.
- float32 throughout: with ``enable_automatic_mixed_precision`` (the default) the sLSTM ignores its bfloat16
  ``dtype`` setting and runs in the input's dtype.

``context_length=max_len`` sizes the mLSTM's causal mask: inputs may be shorter than ``max_len``, never longer.
"""

from __future__ import annotations

import torch
from torch import nn
from xlstm import (
    FeedForwardConfig,
    mLSTMBlockConfig,
    mLSTMLayerConfig,
    sLSTMBlockConfig,
    sLSTMLayerConfig,
    xLSTMBlockStack,
    xLSTMBlockStackConfig,
)


class XLSTMEncoder(nn.Module):
    """Maps ``[batch, length, dim]`` to ``[batch, length, dim]`` causally; blocks in ``slstm_blocks`` are sLSTM."""

    def __init__(
        self, dim: int, blocks: int, heads: int, dropout: float, max_len: int, slstm_blocks: tuple[int, ...] | list
    ):
        super().__init__()
        slstm_at = sorted(set(int(i) for i in slstm_blocks))
        if any(not 0 <= i < blocks for i in slstm_at):
            raise ValueError(f"slstm_blocks {slstm_blocks} must lie in [0, {blocks})")
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.max_len = max_len
        config = xLSTMBlockStackConfig(
            mlstm_block=mLSTMBlockConfig(
                mlstm=mLSTMLayerConfig(conv1d_kernel_size=4, qkv_proj_blocksize=4, num_heads=heads)
            ),
            slstm_block=sLSTMBlockConfig(
                slstm=sLSTMLayerConfig(
                    backend="vanilla", num_heads=heads, conv1d_kernel_size=4, bias_init="powerlaw_blockdependent"
                ),
                feedforward=FeedForwardConfig(proj_factor=1.3, act_fn="gelu"),
            ),
            context_length=max_len,
            num_blocks=blocks,
            embedding_dim=dim,
            dropout=dropout,
            slstm_at=slstm_at,
        )
        self.stack = xLSTMBlockStack(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.max_len:
            raise ValueError(f"sequence length {x.shape[1]} exceeds max_len {self.max_len}")
        return self.stack(x)
