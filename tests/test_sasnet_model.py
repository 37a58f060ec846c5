"""The SASNet architecture: shapes, masking, set semantics, the cross-attention ablation, size and config rules."""

import dataclasses

import pytest
import torch
from conftest import REPO_ROOT

from sasnet.config import ParamsError, build
from sasnet.models.sasnet import SasnetConfig
from sasnet.models.sasnet.network import SASNet, masked_mean
from sasnet.params import load_params

PAPER_CONFIG = load_params(REPO_ROOT / "params.yaml").sasnet  # the repository's defaults
INPUT_DIM = 12
N_CLASSES = 3


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def tiny_config(**changes) -> SasnetConfig:
    """Paper settings shrunk to a model that runs in milliseconds on CPU."""
    small = dict(hidden_dim=16, heads=2, ffn_dim=32, blocks=2, dropout=0.1, batch_size=32, device="cpu")
    return dataclasses.replace(PAPER_CONFIG, **{**small, **changes})


def tiny_model(**changes) -> SASNet:
    torch.manual_seed(0)
    return SASNet(tiny_config(**changes), INPUT_DIM, N_CLASSES).eval()


def random_sets(batch: int = 4, size: int = 5) -> tuple[torch.Tensor, ...]:
    """User and business sets with every slot real."""
    generator = torch.Generator().manual_seed(1)
    mask = torch.ones(batch, size, dtype=torch.bool)
    return (
        torch.randn(batch, size, INPUT_DIM, generator=generator),
        mask,
        torch.randn(batch, size, INPUT_DIM, generator=generator),
        mask.clone(),
    )


def pad_with_junk(reviews: torch.Tensor, mask: torch.Tensor, slots: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The same sets with ``slots`` masked slots of huge random values (and a NaN) interleaved with the real ones."""
    batch, size, dim = reviews.shape
    junk = 1e6 * torch.randn(batch, slots, dim, generator=torch.Generator().manual_seed(2))
    junk[:, 0, 0] = float("nan")
    padded = torch.cat([reviews, junk], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(batch, slots, dtype=torch.bool)], dim=1)
    interleave = torch.randperm(size + slots, generator=torch.Generator().manual_seed(3))
    return padded[:, interleave], padded_mask[:, interleave]


@pytest.mark.parametrize("cross_attention", [True, False])
def test_logits_have_one_row_per_example_and_one_column_per_class(cross_attention):
    model = tiny_model(cross_attention=cross_attention)
    logits = model(*random_sets(batch=7))
    assert logits.shape == (7, N_CLASSES)
    assert torch.isfinite(logits).all()


def test_cross_attention_off_drops_the_cross_block():
    with_cross, without = tiny_model(cross_attention=True), tiny_model(cross_attention=False)
    assert without.cross is None
    assert with_cross.parameter_count() - without.parameter_count() == sum(
        parameter.numel() for parameter in with_cross.cross.parameters()
    )


@pytest.mark.parametrize("cross_attention", [True, False])
def test_masked_junk_slots_change_nothing(cross_attention):
    model = tiny_model(cross_attention=cross_attention)
    user, user_mask, business, business_mask = random_sets()
    expected = model(user, user_mask, business, business_mask)
    padded = model(*pad_with_junk(user, user_mask, 4), *pad_with_junk(business, business_mask, 2))
    torch.testing.assert_close(padded, expected, rtol=1e-5, atol=1e-5)


def test_sets_of_different_sizes_in_one_batch_match_their_unpadded_runs():
    model = tiny_model()
    user, user_mask, business, business_mask = random_sets(batch=2)
    user_mask[1, 2:] = False  # the second user has only 2 reviews
    together = model(user, user_mask, business, business_mask)
    alone = model(user[1:, :2], user_mask[1:, :2], business[1:], business_mask[1:])
    torch.testing.assert_close(together[1:], alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("empty", ["user", "business", "both"])
def test_an_entity_without_any_review_gives_finite_outputs_and_gradients(empty):
    model = tiny_model()
    model.train()
    user, user_mask, business, business_mask = random_sets()
    if empty in ("user", "both"):
        user_mask[0] = False
    if empty in ("business", "both"):
        business_mask[0] = False
    logits = model(user, user_mask, business, business_mask)
    logits.sum().backward()
    assert torch.isfinite(logits).all()
    assert all(torch.isfinite(parameter.grad).all() for parameter in model.parameters() if parameter.grad is not None)


def test_an_empty_set_pools_to_zeros_whatever_its_slots_hold():
    model = tiny_model()
    user, user_mask, business, business_mask = random_sets()
    user_mask[0] = False
    assert torch.equal(masked_mean(model.encode_set(user, user_mask, None), user_mask)[0], torch.zeros(16))
    business_mask[1] = False
    other_user, other_business = user.clone(), business.clone()
    other_user[0], other_business[1] = 1e3, -1e3
    torch.testing.assert_close(
        model(other_user, user_mask, other_business, business_mask), model(user, user_mask, business, business_mask)
    )


@pytest.mark.parametrize("cross_attention", [True, False])
def test_the_order_of_set_members_does_not_matter(cross_attention):
    model = tiny_model(cross_attention=cross_attention)
    user, user_mask, business, business_mask = random_sets()
    user_mask[:, -1] = False
    user_order, business_order = torch.tensor([3, 0, 4, 2, 1]), torch.tensor([4, 3, 2, 1, 0])
    shuffled = model(user[:, user_order], user_mask[:, user_order], business[:, business_order], business_mask)
    torch.testing.assert_close(shuffled, model(user, user_mask, business, business_mask), rtol=1e-5, atol=1e-5)


def test_a_core_without_blocks_still_runs():
    logits = tiny_model(blocks=0)(*random_sets())
    assert logits.shape == (4, N_CLASSES)


def test_the_paper_settings_give_about_3_3_million_parameters():
    count = SASNet(PAPER_CONFIG, 3072, N_CLASSES).parameter_count()
    assert 3_000_000 <= count <= 3_600_000, count


def test_config_rules_name_the_offending_field():
    fields = {**dataclasses.asdict(PAPER_CONFIG), "hidden_dim": 30, "dropout": 1.0, "blocks": -1, "patience": 0,
              "valid_draws": 0}
    with pytest.raises(ParamsError) as raised:
        build(SasnetConfig, fields, "train_sasnet")
    problems = raised.value.problems
    assert sorted(problem.split(":")[0] for problem in problems) == [
        "train_sasnet.blocks",
        "train_sasnet.dropout",
        "train_sasnet.hidden_dim",
        "train_sasnet.patience",
        "train_sasnet.valid_draws",
    ]
    assert build(SasnetConfig, dataclasses.asdict(PAPER_CONFIG)) == PAPER_CONFIG


def test_history_stars_change_the_output_only_when_switched_on():
    user, user_mask, business, business_mask = random_sets()
    stars = torch.randint(0, 5, user_mask.shape)
    other_stars = (stars + 1) % 5
    for history_stars in (False, True):
        model = tiny_model(history_stars=history_stars)
        one = model(user, user_mask, business, business_mask, stars, stars)
        other = model(user, user_mask, business, business_mask, other_stars, other_stars)
        assert torch.allclose(one, other) != history_stars
