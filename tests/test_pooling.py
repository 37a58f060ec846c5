"""The pooling maths on hand-made states: review tokens only, whatever the padding side and the prompt."""

from __future__ import annotations

import pytest
import torch

from sasnet.embeddings.pooling import POOLINGS, attention_pool, last_pool, max_pool, mean_pool, pool_all, weighted_pool

NAN = float("nan")


@pytest.fixture
def batch():
    """Row 0: right padding, [prompt, r, r, r, pad]. Row 1: left padding, [pad, pad, prompt, r, r].

    Prompt and pad states are NaN or huge, so any leak shows.
    """
    hidden = torch.tensor([
        [[1e6, 1e6], [1.0, 2.0], [3.0, -4.0], [5.0, 0.0], [NAN, NAN]],
        [[NAN, NAN], [NAN, NAN], [-1e6, 1e6], [2.0, 1.0], [-2.0, 3.0]],
    ])
    review_mask = torch.tensor([[False, True, True, True, False], [False, False, False, True, True]])
    return hidden, review_mask


def test_mean_and_max_use_review_tokens_only(batch):
    hidden, review_mask = batch
    torch.testing.assert_close(mean_pool(hidden, review_mask), torch.tensor([[3.0, -2 / 3], [0.0, 2.0]]))
    torch.testing.assert_close(max_pool(hidden, review_mask), torch.tensor([[5.0, 2.0], [2.0, 3.0]]))


def test_last_is_the_last_review_token_on_either_padding_side(batch):
    hidden, review_mask = batch
    torch.testing.assert_close(last_pool(hidden, review_mask), torch.tensor([[5.0, 0.0], [-2.0, 3.0]]))


def test_weighted_weighs_the_kth_of_n_tokens_k_over_the_sum_of_ranks(batch):
    hidden, review_mask = batch
    expected = torch.stack([
        (1 * hidden[0, 1] + 2 * hidden[0, 2] + 3 * hidden[0, 3]) / 6,
        (1 * hidden[1, 3] + 2 * hidden[1, 4]) / 3,
    ])
    torch.testing.assert_close(weighted_pool(hidden, review_mask), expected)


def test_attention_pooling_by_hand(batch):
    hidden, review_mask = batch
    torch.manual_seed(0)
    attention = torch.rand(2, 5, 5).tril()
    attention = attention / attention.sum(2, keepdim=True)
    attention[1, :2] = NAN  # rows of pads that could attend to nothing
    expected = []
    for row, mask in enumerate(review_mask):
        review = mask.nonzero().squeeze(1)
        restricted = attention[row][review][:, review]  # review queries x review keys
        restricted = restricted / restricted.sum(1, keepdim=True)
        expected.append((restricted @ hidden[row, review]).mean(0))
    torch.testing.assert_close(attention_pool(hidden, review_mask, attention), torch.stack(expected))


def test_attention_pooling_ignores_mass_on_the_prompt():
    """Mass a review token puts on the prompt is dropped and the rest renormalised: it cannot shrink the vector."""
    hidden = torch.tensor([[[100.0], [2.0], [4.0]]])
    review_mask = torch.tensor([[False, True, True]])
    attention = torch.tensor([[[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.5, 0.25, 0.25]]])
    # Rows after dropping the prompt column: [1, 0] and [0.5, 0.5]; contexts 2 and 3; mean 2.5.
    torch.testing.assert_close(attention_pool(hidden, review_mask, attention), torch.tensor([[2.5]]))


def test_a_one_token_review_pools_to_its_state_everywhere():
    hidden = torch.tensor([[[NAN, NAN], [7.0, -1.0], [NAN, NAN]]])
    review_mask = torch.tensor([[False, True, False]])
    attention = torch.tensor([[[1.0, 0.0, 0.0], [0.6, 0.4, 0.0], [0.2, 0.3, 0.5]]])
    pooled = pool_all(hidden, review_mask, attention)
    assert tuple(pooled) == POOLINGS
    for name, vector in pooled.items():
        torch.testing.assert_close(vector, torch.tensor([[7.0, -1.0]]), msg=name)


def test_results_are_float32_from_bfloat16_states(batch):
    hidden, review_mask = batch
    attention = torch.full((2, 5, 5), 0.2, dtype=torch.bfloat16)
    pooled = pool_all(hidden.nan_to_num().bfloat16(), review_mask, attention)
    assert all(vector.dtype == torch.float32 and vector.isfinite().all() for vector in pooled.values())
