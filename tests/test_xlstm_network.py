"""The xLSTM encoder on CPU: causal, seeded, trainable, and able to learn a trivial next-item walk."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sasnet.models.xlstm.network import XLSTMEncoder

DIM, HEADS, MAX_LEN = 32, 4, 16


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def make_encoder(slstm_blocks, blocks: int = 1, dropout: float = 0.0, seed: int = 0) -> XLSTMEncoder:
    torch.manual_seed(seed)
    return XLSTMEncoder(
        dim=DIM, blocks=blocks, heads=HEADS, dropout=dropout, max_len=MAX_LEN, slstm_blocks=slstm_blocks
    )


@pytest.mark.parametrize(
    "slstm_blocks, blocks", [([], 1), ([0], 1), ((1,), 2)], ids=["mlstm", "slstm", "mlstm+slstm"]
)
@pytest.mark.parametrize("length", [MAX_LEN, 11])
def test_causal(slstm_blocks, blocks, length):
    encoder = make_encoder(slstm_blocks, blocks).eval()
    x = torch.randn(3, length, DIM, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = encoder(x)
        for t in (0, 4, length - 2):
            changed = x.clone()
            changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 5
            after = encoder(changed)
            torch.testing.assert_close(after[:, : t + 1], before[:, : t + 1], atol=1e-5, rtol=0)
            assert not torch.allclose(after[:, t + 1 :], before[:, t + 1 :], atol=1e-3)


def test_too_long_input_is_refused():
    with pytest.raises(ValueError, match="max_len"):
        make_encoder([0])(torch.zeros(1, MAX_LEN + 1, DIM))


def test_same_seed_same_outputs():
    x = torch.randn(2, MAX_LEN, DIM)
    first, second = make_encoder((1,), blocks=2, seed=7), make_encoder((1,), blocks=2, seed=7)
    other = make_encoder((1,), blocks=2, seed=8)
    with torch.no_grad():
        assert torch.equal(first.eval()(x), second.eval()(x))
        assert not torch.allclose(first(x), other.eval()(x))
    # dropout too is drawn from the global generator
    first.train(), second.train()
    torch.manual_seed(3)
    a = first(x)
    torch.manual_seed(3)
    assert torch.equal(a, second(x))


def test_gradients_flow_to_every_parameter():
    encoder = make_encoder((1,), blocks=2, dropout=0.1)
    x = torch.randn(4, MAX_LEN, DIM, requires_grad=True)
    encoder(x).pow(2).mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.slow
def test_learns_next_item_walk():
    """Sequences walk i -> i + 1 (mod 20): position t's output must predict item t + 1."""
    items, length = 20, MAX_LEN
    torch.manual_seed(0)
    embed = nn.Embedding(items, DIM)
    encoder = XLSTMEncoder(dim=DIM, blocks=2, heads=HEADS, dropout=0.0, max_len=length, slstm_blocks=[1])
    head = nn.Linear(DIM, items)
    parameters = [*embed.parameters(), *encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-2)

    def batch(size: int) -> torch.Tensor:
        return (torch.randint(0, items, (size, 1)) + torch.arange(length + 1)) % items

    for _ in range(100):
        walk = batch(32)
        logits = head(encoder(embed(walk[:, :-1])))
        loss = nn.functional.cross_entropy(logits.reshape(-1, items), walk[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    encoder.eval()
    with torch.no_grad():
        walk = batch(256)
        accuracy = (head(encoder(embed(walk[:, :-1]))).argmax(-1) == walk[:, 1:]).float().mean().item()
    assert accuracy > 0.9, accuracy
