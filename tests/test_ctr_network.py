"""The hand-written CTR networks (wide_deep, deepfm, dlrm): shapes, padding, the FM identity, and learning."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from sasnet.models.ctr.network import ARCHITECTURES, CTRNetwork, bi_interaction, parameter_count

FIELD_SIZES = [7, 5, 3]
BAG_SIZE, MAX_BAG, N_DENSE, DIM, BATCH = 6, 4, 3, 8, 5

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def make_network(
    architecture: str,
    *,
    n_outputs: int = 3,
    field_sizes: list[int] = FIELD_SIZES,
    bag_size: int = BAG_SIZE,
    n_dense: int = N_DENSE,
    hidden_dims: tuple[int, ...] = (16,),
    dropout: float = 0.0,
    seed: int = 0,
) -> CTRNetwork:
    torch.manual_seed(seed)
    return CTRNetwork(
        architecture,
        field_sizes=list(field_sizes),
        bag_size=bag_size,
        n_dense=n_dense,
        embedding_dim=DIM,
        hidden_dims=list(hidden_dims),
        dropout=dropout,
        n_outputs=n_outputs,
    )


def make_batch(
    batch: int = BATCH, field_sizes=FIELD_SIZES, bag_size: int = BAG_SIZE, n_dense: int = N_DENSE, seed: int = 1
):
    """Random fields, bags padded with ``bag_size`` (row 0 all padding, i.e. an item with no category), dense."""
    g = torch.Generator().manual_seed(seed)
    fields = torch.stack([torch.randint(0, size, (batch,), generator=g) for size in field_sizes], dim=1)
    bags = None
    if bag_size:
        bags = torch.randint(0, bag_size, (batch, MAX_BAG), generator=g)
        lengths = torch.randint(1, MAX_BAG + 1, (batch,), generator=g)
        lengths[0] = 0
        bags[torch.arange(MAX_BAG) >= lengths[:, None]] = bag_size
    dense = torch.rand(batch, n_dense, generator=g) if n_dense else None
    return fields, bags, dense


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("bag_size, n_dense", [(BAG_SIZE, N_DENSE), (0, N_DENSE), (BAG_SIZE, 0), (0, 0)])
def test_output_shape(architecture, n_outputs, bag_size, n_dense):
    network = make_network(architecture, n_outputs=n_outputs, bag_size=bag_size, n_dense=n_dense, dropout=0.1)
    fields, bags, dense = make_batch(bag_size=bag_size, n_dense=n_dense)
    assert (bags is None) == (bag_size == 0) and (dense is None) == (n_dense == 0)
    logits = network(fields, bags, dense)
    assert logits.shape == (BATCH, n_outputs)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    logits.sum().backward()  # the graph reaches the shared embedding table
    assert network.field_embedding.weight.grad is not None
    assert parameter_count(network) == sum(p.numel() for p in network.parameters()) > 0


def test_unknown_architecture_lists_valid_names():
    with pytest.raises(ValueError) as error:
        make_network("xdeepfm")
    for name in ARCHITECTURES:
        assert name in str(error.value)


def test_dlrm_needs_two_vectors():
    with pytest.raises(ValueError, match="at least two"):
        make_network("dlrm", field_sizes=[4], bag_size=0, n_dense=0)
    make_network("dlrm", field_sizes=[4], bag_size=0, n_dense=2)  # dense vector x field: one dot


def test_rejects_out_of_range_fields_and_missing_inputs():
    network = make_network("deepfm")
    fields, bags, dense = make_batch()
    fields[2, 1] = FIELD_SIZES[1]  # would otherwise silently read field 2's first row
    with pytest.raises(ValueError, match="field_sizes"):
        network(fields, bags, dense)
    fields, bags, dense = make_batch()
    with pytest.raises(ValueError, match="bags"):
        network(fields, None, dense)
    with pytest.raises(ValueError, match="dense"):
        network(fields, bags, None)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_seeded_initialisation_is_deterministic(architecture):
    fields, bags, dense = make_batch()
    first, second = make_network(architecture).eval(), make_network(architecture).eval()
    with torch.no_grad():
        torch.testing.assert_close(first(fields, bags, dense), second(fields, bags, dense), rtol=0, atol=0)
        assert not torch.allclose(first(fields, bags, dense), make_network(architecture, seed=1)(fields, bags, dense))


def test_bi_interaction_equals_sum_over_pairs():
    g = torch.Generator().manual_seed(0)
    embeddings = torch.randn(4, 6, DIM, generator=g, dtype=torch.float64)
    vector = bi_interaction(embeddings)
    assert vector.shape == (4, DIM)
    pairs = sum(
        (embeddings[:, i] * embeddings[:, j]).sum(dim=1) for i, j in itertools.combinations(range(6), 2)
    )
    torch.testing.assert_close(vector.sum(dim=1), pairs)
    # Per dimension too: the vector is the element-wise sum over pairs e_i * e_j.
    elementwise = sum(embeddings[:, i] * embeddings[:, j] for i, j in itertools.combinations(range(6), 2))
    torch.testing.assert_close(vector, elementwise)


def test_deepfm_single_output_fm_term_is_classic_fm():
    """n_outputs=1: logits = first order + sum over pairs of <e_i, e_j> + deep, the FM term computed by hand here."""
    network = make_network("deepfm", n_outputs=1).eval()
    assert network.fm_out is None
    fields, bags, dense = make_batch()
    with torch.no_grad():
        vectors = torch.cat(
            [
                network.field_embedding(fields + network.offsets),
                network.bag_embedding(bags).unsqueeze(1),
                network.dense_embedding(dense).unsqueeze(1),
            ],
            dim=1,
        )
        pairs = sum((vectors[:, i] * vectors[:, j]).sum(dim=1) for i, j in itertools.combinations(range(5), 2))
        first_order = network._first_order(fields + network.offsets, bags, dense)
        expected = first_order + pairs[:, None] + network.deep(vectors.flatten(1))
        torch.testing.assert_close(network(fields, bags, dense), expected)


def test_bag_pools_mean_over_non_padding():
    network = make_network("wide_deep")
    bags = torch.tensor([[2, 5, BAG_SIZE, BAG_SIZE], [BAG_SIZE, 2, BAG_SIZE, 5], [BAG_SIZE] * MAX_BAG])
    with torch.no_grad():
        pooled = network.bag_embedding(bags)
        table = network.bag_embedding.weight
        torch.testing.assert_close(pooled[0], (table[2] + table[5]) / 2)
        torch.testing.assert_close(pooled[1], pooled[0])
        torch.testing.assert_close(pooled[2], torch.zeros(DIM))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_padding_slots_do_not_matter(architecture):
    """Moving or trimming padding leaves the output alone; an all-padding bag ignores every bag weight."""
    network = make_network(architecture).eval()
    fields, _, dense = make_batch(batch=1)
    fields, dense = fields.expand(3, -1), dense.expand(3, -1)  # one user-item row, three ways of padding its bag
    padded = torch.tensor([[1, 4, BAG_SIZE, BAG_SIZE], [BAG_SIZE, 4, BAG_SIZE, 1], [BAG_SIZE] * MAX_BAG])
    trimmed = torch.tensor([[1, 4], [4, 1], [BAG_SIZE, BAG_SIZE]])
    with torch.no_grad():
        out = network(fields, padded, dense)
        torch.testing.assert_close(out[0], out[1])
        torch.testing.assert_close(network(fields, trimmed, dense), out)
        # Randomise every bag parameter, padding row included: only the rows with categories move.
        for module in (network.bag_embedding, getattr(network, "bag_weight", None)):
            if module is not None:
                module.weight.normal_()
        changed = network(fields, padded, dense)
        torch.testing.assert_close(changed[2], out[2])
        assert not torch.allclose(changed[:2], out[:2], atol=1e-4)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("field", range(len(FIELD_SIZES)))
def test_each_field_changes_the_logits(architecture, field):
    network = make_network(architecture).eval()
    fields, bags, dense = make_batch()
    changed = fields.clone()
    changed[:, field] = (changed[:, field] + 1) % FIELD_SIZES[field]
    with torch.no_grad():
        before, after = network(fields, bags, dense), network(changed, bags, dense)
    assert (after - before).abs().amax(dim=1).min() > 1e-6  # every row moves


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_dense_and_bag_change_the_logits(architecture):
    network = make_network(architecture).eval()
    fields, bags, dense = make_batch()
    other_bags = torch.full_like(bags, BAG_SIZE)
    other_bags[:, 0] = (bags[:, 0] + 1) % BAG_SIZE
    with torch.no_grad():
        before = network(fields, bags, dense)
        assert not torch.allclose(network(fields, bags, dense + 0.5), before, atol=1e-6)
        assert not torch.allclose(network(fields, other_bags, dense), before, atol=1e-6)


# A tiny task a linear model cannot solve: the label is a fixed random table of two fields' values (an
# interaction), plus a noise field, random bags and random dense features the label ignores. A logistic regression
# on the two one-hot fields reaches about 0.65 (2 classes) / 0.70 (3 classes) held-out accuracy; majority ~0.5.
TASK_SIZES = [6, 6, 4]


def interaction_task(n: int, n_classes: int, seed: int):
    table = torch.randint(0, n_classes, (6, 6), generator=torch.Generator().manual_seed(123))
    fields, bags, dense = make_batch(batch=n, field_sizes=TASK_SIZES, seed=seed)
    return fields, bags, dense, table[fields[:, 0], fields[:, 1]]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_learns_a_field_interaction(architecture, n_outputs):
    n_classes = max(n_outputs, 2)
    train, test = interaction_task(512, n_classes, seed=2), interaction_task(512, n_classes, seed=3)
    network = make_network(architecture, n_outputs=n_outputs, field_sizes=TASK_SIZES, hidden_dims=[32])
    loss_fn = nn.CrossEntropyLoss() if n_outputs > 1 else nn.BCEWithLogitsLoss()
    optimizer = torch.optim.Adam(network.parameters(), lr=0.02)

    def predict(logits):
        return logits.argmax(dim=1) if n_outputs > 1 else (logits[:, 0] > 0).long()

    *inputs, labels = train
    target = labels if n_outputs > 1 else labels.float()[:, None]
    network.train()
    for _ in range(300):
        optimizer.zero_grad()
        loss_fn(network(*inputs), target).backward()
        optimizer.step()
    network.eval()
    *inputs, labels = test
    with torch.no_grad():
        accuracy = (predict(network(*inputs)) == labels).float().mean().item()
    majority = torch.bincount(labels, minlength=n_classes).max().item() / len(labels)
    assert accuracy >= 0.9 and accuracy > majority + 0.25, (accuracy, majority)
