"""Three classic click-through-rate networks, written by hand in torch, sharing one input layout.

A batch has three parts:

- ``fields``: ``LongTensor [B, n_fields]``, one categorical value per field (an item id, a semantic-code token, a
  user-side bucket id); field ``f`` takes values in ``[0, field_sizes[f])``.
- ``bags``: ``LongTensor [B, max_bag]``, a multi-hot field (an item's categories) as indices into a vocabulary of
  ``bag_size`` values, padded with the value ``bag_size``. It is mean-pooled into one field embedding; padding
  slots count neither in the sum nor in the divisor, so ``max_bag`` and where the padding sits do not matter, and
  an all-padding bag (an item with no category) pools to the zero vector. ``None`` when ``bag_size == 0``.
- ``dense``: ``FloatTensor [B, n_dense]`` (a user's class shares in other reviews); ``None`` when ``n_dense == 0``.

All fields live in one embedding table, each field's rows starting at an offset (the TorchRec / DLRM layout): one
gather serves every field, and the first-order weights below reuse the same offsets. Values outside a field's
range would silently read the next field's rows, so ``forward`` rejects them.

The networks output ``n_outputs`` logits: 3 rating classes (bad / good / excellent, for a softmax cross-entropy
outside the module) or 1 (for a sigmoid / binary cross-entropy).

- ``wide_deep`` (Cheng et al. 2016, "Wide & Deep Learning for Recommender Systems"): ``logits = wide + deep``.
  The wide part is a linear model over the one-hot fields, the multi-hot bag and the dense features: each
  categorical value has its own weight vector of width ``n_outputs`` (an embedding of width ``n_outputs``, summed
  over the fields and the bag's values), plus a linear map of the dense features and a bias. The deep part is an
  MLP over the concatenated field embeddings, the pooled bag embedding and the raw dense features. Multi-output is
  native: every piece is already ``n_outputs`` wide. (The paper's hand-made cross-product features are left out:
  the deep part learns interactions.)
- ``deepfm`` (Guo et al. 2017, "DeepFM: A Factorization-Machine based Neural Network for CTR Prediction"):
  ``logits = first order + FM + deep``, all sharing one set of embeddings: the field embeddings, the pooled bag
  embedding as one more field, and the dense features projected linearly to one more ``embedding_dim`` field.
  The first-order terms are the same as the wide part above. The FM term is the second-order interaction
  ``sum_{i<j} <e_i, e_j>``, computed in O(K D) through the bi-interaction vector
  ``0.5 * ((sum_i e_i)^2 - sum_i e_i^2)`` (width ``embedding_dim``; its entries summed give exactly the sum over
  pairs). With ``n_outputs == 1`` the vector is summed, the classic FM scalar; with ``n_outputs > 1`` a bias-free
  linear layer maps it to ``n_outputs`` (as in NFM's bi-interaction pooling), so each class weighs the embedding
  dimensions of the interactions its own way; that layer with its weights fixed to ones is the classic FM again,
  copied into every class. The deep part is an MLP over the same K embeddings, flattened.
- ``dlrm`` (Naumov et al. 2019, "Deep Learning Recommendation Model for Personalization and Recommendation
  Systems"): a bottom MLP maps the dense features to one ``embedding_dim`` vector (none when ``n_dense == 0``);
  the dot products between every pair of [dense vector, field embeddings, bag embedding] (the strictly upper
  triangle of their Gram matrix) are concatenated with the dense vector and fed to a top MLP whose last layer has
  ``n_outputs`` units. Multi-output is native: only the top MLP's width changes. The categorical fields reach the
  top MLP only through dot products, so DLRM needs at least two vectors to interact.

Every MLP is ``Linear-ReLU-Dropout`` per hidden dim followed by a plain ``Linear`` to its output width (DLRM's
bottom and top MLP both use ``hidden_dims``). Parameters come from torch's default initialisation except the
embeddings (normal, std ``embedding_dim ** -0.5``, so dot products start O(1 / sqrt(D)) rather than O(sqrt(D)))
and the first-order weights (zero, as a logistic regression starts): deterministic under ``torch.manual_seed``.
"""

from __future__ import annotations

import torch
from torch import nn

ARCHITECTURES = ("wide_deep", "deepfm", "dlrm")


def mlp(in_dim: int, hidden_dims: list[int], out_dim: int, dropout: float) -> nn.Sequential:
    """``Linear-ReLU-Dropout`` per hidden dim, then a ``Linear`` to ``out_dim`` (no activation: logits or a vector)."""
    layers: list[nn.Module] = []
    for width in hidden_dims:
        layers += [nn.Linear(in_dim, width), nn.ReLU(), nn.Dropout(dropout)]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


def bi_interaction(embeddings: torch.Tensor) -> torch.Tensor:
    """``[B, K, D] -> [B, D]``: ``0.5 * ((sum_k e_k)^2 - sum_k e_k^2)``; its sum over D is ``sum_{i<j} <e_i, e_j>``."""
    return 0.5 * (embeddings.sum(dim=1).square() - embeddings.square().sum(dim=1))


def parameter_count(module: nn.Module) -> int:
    """The number of scalar parameters in ``module``."""
    return sum(p.numel() for p in module.parameters())


class CTRNetwork(nn.Module):
    """``(fields [B, F], bags [B, L] | None, dense [B, n_dense] | None) -> logits [B, n_outputs]``."""

    def __init__(
        self,
        architecture: str,
        field_sizes: list[int],
        bag_size: int,
        n_dense: int,
        embedding_dim: int,
        hidden_dims: list[int],
        dropout: float,
        n_outputs: int,
    ):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"unknown CTR architecture {architecture!r}; valid: {', '.join(ARCHITECTURES)}")
        field_sizes = [int(size) for size in field_sizes]
        if not field_sizes or min(field_sizes) < 1:
            raise ValueError(f"field_sizes {field_sizes} must be a non-empty list of positive sizes")
        if bag_size < 0 or n_dense < 0 or embedding_dim < 1 or n_outputs < 1:
            raise ValueError(
                f"need bag_size >= 0, n_dense >= 0, embedding_dim >= 1, n_outputs >= 1; got {bag_size}, {n_dense}, "
                f"{embedding_dim}, {n_outputs}"
            )
        self.architecture = architecture
        self.bag_size, self.n_dense, self.n_outputs = bag_size, n_dense, n_outputs
        sizes = torch.tensor(field_sizes)
        # Derived from field_sizes, so not saved in the state dict.
        self.register_buffer("field_sizes", sizes, persistent=False)
        self.register_buffer("offsets", torch.cumsum(sizes, 0) - sizes, persistent=False)
        total, dim, n_fields = sum(field_sizes), embedding_dim, len(field_sizes)

        self.field_embedding = nn.Embedding(total, dim)
        nn.init.normal_(self.field_embedding.weight, std=dim**-0.5)
        self.bag_embedding = None
        if bag_size:
            # Row bag_size is padding: excluded from the mean, so an all-padding bag pools to zeros.
            self.bag_embedding = nn.EmbeddingBag(bag_size + 1, dim, mode="mean", padding_idx=bag_size)
            nn.init.normal_(self.bag_embedding.weight, std=dim**-0.5)
            self.bag_embedding._fill_padding_idx_with_zero()

        if architecture in ("wide_deep", "deepfm"):
            # The linear model: one weight vector of width n_outputs per categorical value, summed.
            self.field_weight = nn.Embedding(total, n_outputs)
            nn.init.zeros_(self.field_weight.weight)
            self.bag_weight = None
            if bag_size:
                self.bag_weight = nn.EmbeddingBag(bag_size + 1, n_outputs, mode="sum", padding_idx=bag_size)
                nn.init.zeros_(self.bag_weight.weight)
            self.dense_weight = nn.Linear(n_dense, n_outputs, bias=False) if n_dense else None
            self.bias = nn.Parameter(torch.zeros(n_outputs))

        if architecture == "wide_deep":
            self.deep = mlp(n_fields * dim + (dim if bag_size else 0) + n_dense, hidden_dims, n_outputs, dropout)
        elif architecture == "deepfm":
            self.dense_embedding = nn.Linear(n_dense, dim) if n_dense else None
            n_vectors = n_fields + bool(bag_size) + bool(n_dense)
            self.fm_out = nn.Linear(dim, n_outputs, bias=False) if n_outputs > 1 else None
            self.deep = mlp(n_vectors * dim, hidden_dims, n_outputs, dropout)
        else:
            self.bottom = mlp(n_dense, hidden_dims, dim, dropout) if n_dense else None
            n_vectors = n_fields + bool(bag_size) + bool(n_dense)
            if n_vectors < 2:
                raise ValueError("dlrm needs at least two vectors to interact (fields + bag + dense)")
            pairs = torch.triu_indices(n_vectors, n_vectors, offset=1)
            self.register_buffer("pairs", pairs, persistent=False)
            self.top = mlp((dim if n_dense else 0) + pairs.shape[1], hidden_dims, n_outputs, dropout)

    def forward(
        self, fields: torch.Tensor, bags: torch.Tensor | None = None, dense: torch.Tensor | None = None
    ) -> torch.Tensor:
        self._check(fields, bags, dense)
        rows = fields + self.offsets  # each field's values index its own slice of the shared table
        embedded = self.field_embedding(rows)  # [B, F, D]
        bag = self.bag_embedding(bags) if self.bag_embedding is not None else None  # [B, D]
        if self.architecture == "wide_deep":
            deep_in = [embedded.flatten(1)] + ([bag] if bag is not None else []) + ([dense] if self.n_dense else [])
            return self._first_order(rows, bags, dense) + self.deep(torch.cat(deep_in, dim=1))
        if self.architecture == "deepfm":
            vectors = self._stack(embedded, bag, self.dense_embedding(dense) if self.n_dense else None)
            interaction = bi_interaction(vectors)  # [B, D]
            fm = self.fm_out(interaction) if self.fm_out is not None else interaction.sum(dim=1, keepdim=True)
            return self._first_order(rows, bags, dense) + fm + self.deep(vectors.flatten(1))
        dense_vector = self.bottom(dense) if self.n_dense else None
        vectors = self._stack(embedded, bag, dense_vector)  # [B, K, D]
        gram = vectors @ vectors.transpose(1, 2)  # [B, K, K]
        dots = gram[:, self.pairs[0], self.pairs[1]]  # strictly upper triangle: each pair once, no self-dots
        return self.top(torch.cat([dense_vector, dots], dim=1) if dense_vector is not None else dots)

    def _first_order(self, rows: torch.Tensor, bags: torch.Tensor | None, dense: torch.Tensor | None) -> torch.Tensor:
        """The linear model shared by wide_deep's wide part and deepfm's first-order term: ``[B, n_outputs]``."""
        out = self.field_weight(rows).sum(dim=1) + self.bias
        if self.bag_weight is not None:
            out = out + self.bag_weight(bags)
        if self.dense_weight is not None:
            out = out + self.dense_weight(dense)
        return out

    @staticmethod
    def _stack(embedded: torch.Tensor, *extra: torch.Tensor | None) -> torch.Tensor:
        """The field embeddings followed by the optional extra vectors (bag, dense) as one ``[B, K, D]`` tensor."""
        return torch.cat([embedded] + [vector.unsqueeze(1) for vector in extra if vector is not None], dim=1)

    def _check(self, fields: torch.Tensor, bags: torch.Tensor | None, dense: torch.Tensor | None) -> None:
        n_fields = len(self.field_sizes)
        if fields.dim() != 2 or fields.shape[1] != n_fields:
            raise ValueError(f"fields must be [batch, {n_fields}], got {list(fields.shape)}")
        # Out-of-range values would read another field's rows without any error.
        if bool(((fields < 0) | (fields >= self.field_sizes)).any()):
            raise ValueError(f"fields values must lie in [0, field_sizes) = {self.field_sizes.tolist()}")
        if self.bag_size and (bags is None or bags.dim() != 2 or bags.shape[0] != fields.shape[0]):
            raise ValueError(f"bags must be [batch, max_bag] with bag_size={self.bag_size}")
        if self.n_dense and (dense is None or tuple(dense.shape) != (fields.shape[0], self.n_dense)):
            raise ValueError(f"dense must be [batch, {self.n_dense}]")
