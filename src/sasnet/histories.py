"""Who may appear in an example's user set and business set (SPEC §2.1-2.2): SASNet's draws and the SVMs' averages.

An example is a review to predict; its rows are rows of the embedding matrices (the canonical review order).

- Its *user pool* is its user's other reviews. A user's reviews all lie in one split, so for a train example these
  are train reviews, and for a valid/test example (an unseen user) reviews of that same split.
- Its *business pool* is its business's train reviews, itself excluded. Reviews of valid/test users never enter a
  business pool, so no example ever sees a held-out review through its business.

Pools are stored CSR-style, one group per user and one per business: the member rows sorted by group, and each
row's position inside its own group (or the group's size for a row outside it, such as a valid/test review in its
business's group). An example's pool is its group minus at most that one position, so draws and averages skip the
target by index arithmetic instead of building a list per example.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sasnet.data.configs import SPLITS
from sasnet.errors import PipelineError

REQUIRED_COLUMNS = ("user_id", "business_id", "split")


@dataclass(frozen=True)
class Pools:
    """Rows grouped by an entity; an example's pool is its entity's group without the example itself."""

    members: np.ndarray  # member rows, grouped by entity, ascending within a group
    starts: np.ndarray  # entity g's members are members[starts[g] : starts[g + 1]]
    group: np.ndarray  # per row: its entity
    own_position: np.ndarray  # per row: its position among its entity's members; the group's size if no member

    @classmethod
    def build(cls, entity: np.ndarray, is_member: np.ndarray, n_entities: int) -> Pools:
        member_rows = np.flatnonzero(is_member)
        members = member_rows[np.argsort(entity[member_rows], kind="stable")]
        counts = np.bincount(entity[member_rows], minlength=n_entities)
        starts = np.concatenate([[0], np.cumsum(counts)])
        own_position = counts[entity]
        own_position[members] = np.arange(len(members)) - starts[entity[members]]
        return cls(members, starts, entity, own_position)

    def _group_layout(
        self, group: np.ndarray, own: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per example: where its group starts in ``members``, the group's size, its own position, its pool size."""
        group_size = self.group_size(group)
        return self.starts[group], group_size, own, group_size - (own < group_size)

    def group_size(self, group: np.ndarray) -> np.ndarray:
        return self.starts[group + 1] - self.starts[group]

    def pool_sizes(self, group: np.ndarray, own: np.ndarray) -> np.ndarray:
        return self._group_layout(group, own)[3]

    def draw_from(
        self, group: np.ndarray, own: np.ndarray, set_size: int, padding: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``set_size`` members of each ``group`` but its position ``own`` (the group's size: none excluded), without
        replacement, and the mask of the real ones.

        Each slot draws the k-th free position of the group (k uniform over the positions still free) and steps it
        over the taken positions in ascending order; the example's own position is taken from the start. Every
        ordered draw is equally likely, and the cost is O(set_size^2) per example whatever the pool's size. A pool
        shorter than the set fills its first slots with all its members in random order; the remaining slots repeat
        random members and are masked. An empty pool's slots point at ``padding`` (a row that is not the example)
        and are all masked.
        """
        start, _, own, pool_size = self._group_layout(group, own)
        n = len(group)
        positions = np.empty((n, set_size), dtype=np.int64)
        taken = own[:, None]  # sorted per example
        for slot in range(set_size):
            position = rng.integers(np.maximum(pool_size - slot, 1))  # clamped where the pool has run out: masked
            for column in range(taken.shape[1]):
                position += position >= taken[:, column]
            positions[:, slot] = position
            taken = np.sort(np.column_stack([taken, position]), axis=1)
        mask = np.arange(set_size) < pool_size[:, None]
        real_slot = rng.integers(np.clip(pool_size, 1, set_size)[:, None], size=(n, set_size))
        repeated = np.take_along_axis(positions, real_slot, axis=1)
        positions = np.where(mask, positions, repeated)
        has_pool = pool_size[:, None] > 0
        member_index = np.where(has_pool, start[:, None] + positions, 0)  # an empty pool's positions point nowhere
        return np.where(has_pool, self.members[member_index], padding[:, None]), mask

    def pool_entries(self, group: np.ndarray, own: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (example, member row) of the examples' pools, grouped by example: each group but position ``own``.

        Built from every example's whole group, so it takes the sum of the examples' group sizes in entries: a few
        million for the business pools of the paper's 75k reviews.
        """
        start, group_size, own, _ = self._group_layout(group, own)
        example = np.repeat(np.arange(len(group)), group_size)
        position = np.arange(len(example)) - np.repeat(np.cumsum(group_size) - group_size, group_size)
        kept = position != own[example]
        return example[kept], self.members[(start[example] + position)[kept]]

    def averaging_matrix(self, group: np.ndarray, own: np.ndarray, n_columns: int, dtype: np.dtype) -> sp.csr_matrix:
        """Sparse [examples, n_columns]: row i holds 1 / |pool| at each member of example i's pool (all 0 if empty)."""
        example, columns = self.pool_entries(group, own)
        pool_size = self.pool_sizes(group, own)
        weights = (1.0 / np.maximum(pool_size, 1))[example].astype(dtype)
        indptr = np.concatenate([[0], np.cumsum(pool_size)])
        return sp.csr_matrix((weights, columns, indptr), shape=(len(group), n_columns))


@dataclass(frozen=True)
class Examples:
    """(user, business) pairs to score, as groups of the Histories' pools, and the pair's review to leave out.

    ``user_own`` / ``business_own`` is the pair's review's position in its user's / business's group, or the group's
    size where the pair has no review there (an unreviewed pair, or a held-out review outside its business's group):
    every pool an example sees is its group without that position.
    """

    users: np.ndarray  # user group per example (index into Histories.user_ids)
    businesses: np.ndarray  # business group per example
    user_own: np.ndarray
    business_own: np.ndarray
    rows: np.ndarray  # the pair's review row, or -1 for a pair the user has not reviewed

    def __len__(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Histories:
    """The user and business pools of every review of a review table (rows in matrix order)."""

    splits: np.ndarray  # per row: its split name
    users: Pools
    businesses: Pools
    padding_rows: np.ndarray  # two train rows: an empty pool's masked slots point at the one that is not the target
    user_ids: pd.Index  # user group g is user_ids[g]
    business_ids: pd.Index

    @classmethod
    def from_reviews(cls, reviews: pd.DataFrame) -> Histories:
        missing = [column for column in REQUIRED_COLUMNS if column not in reviews.columns]
        if missing:
            raise PipelineError(f"the review table lacks the column(s) {', '.join(missing)}")
        splits = reviews["split"].to_numpy().astype(str)
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown:
            raise PipelineError(f"unknown split name(s) {unknown} in the review table; expected {', '.join(SPLITS)}")
        splits_per_user = reviews.groupby("user_id")["split"].nunique()
        if (splits_per_user > 1).any():
            raise PipelineError(
                f"{int((splits_per_user > 1).sum())} user(s) have reviews in more than one split (e.g. "
                f"{splits_per_user[splits_per_user > 1].index[0]!r}): the split must be by user, or held-out "
                "reviews would reach business sets"
            )
        is_train = splits == "train"
        train_rows = np.flatnonzero(is_train)
        if len(train_rows) < 2:
            raise PipelineError(f"the review table has {len(train_rows)} train review(s); at least 2 are needed")
        user, users = pd.factorize(reviews["user_id"])
        business, businesses = pd.factorize(reviews["business_id"])
        return cls(
            splits=splits,
            users=Pools.build(user, np.ones(len(reviews), dtype=bool), len(users)),
            businesses=Pools.build(business, is_train, len(businesses)),
            padding_rows=train_rows[:2],
            user_ids=users,
            business_ids=businesses,
        )

    @classmethod
    def before_targets(
        cls, users: np.ndarray, items: np.ndarray, splits: np.ndarray, user_splits: tuple[str, ...],
        n_users: int, n_items: int,
    ) -> Histories:
        """Pools for the ranking task's leave-last-out split (``sasnet.ranking``), where every user is in every split:
        a user pool holds the user's interactions of ``user_splits`` (train before the valid target; train and
        valid before the test target), a business pool its train interactions. A train example still leaves its
        own review out of both pools; a target is in neither."""
        splits = np.asarray(splits).astype(str)
        train_rows = np.flatnonzero(splits == "train")
        if len(train_rows) < 2:
            raise PipelineError(f"the ranking split has {len(train_rows)} train interaction(s); at least 2 are needed")
        return cls(
            splits=splits,
            users=Pools.build(users, np.isin(splits, user_splits), n_users),
            businesses=Pools.build(items, splits == "train", n_items),
            padding_rows=train_rows[:2],
            user_ids=pd.RangeIndex(n_users),
            business_ids=pd.RangeIndex(n_items),
        )

    def rows_of(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.splits == split)

    def examples(self, rows: np.ndarray) -> Examples:
        """The reviews at ``rows`` as examples: each pair's own review left out of both its pools."""
        rows = np.asarray(rows, dtype=np.int64)
        return Examples(
            self.users.group[rows], self.businesses.group[rows],
            self.users.own_position[rows], self.businesses.own_position[rows], rows,
        )

    def pair_examples(self, user_groups: np.ndarray, business_groups: np.ndarray) -> Examples:
        """(user, business) pairs given as groups. A pair the user has reviewed is the example of that review (its
        first, if several); for any other pair the pools are all the user's reviews and all the business's train
        reviews."""
        user_groups, business_groups = np.asarray(user_groups, np.int64), np.asarray(business_groups, np.int64)
        rows = self._review_rows(user_groups, business_groups)
        reviewed = rows >= 0
        return Examples(
            user_groups,
            business_groups,
            np.where(reviewed, self.users.own_position[rows], self.users.group_size(user_groups)),
            np.where(reviewed, self.businesses.own_position[rows], self.businesses.group_size(business_groups)),
            rows,
        )

    def draw_sets(
        self, examples: Examples, set_size: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Fresh user and business sets for each example: rows [n, set_size] int64 and masks [n, set_size] bool.

        Masked slots (short or empty pools, counted by ``pool_statistics``) still hold valid row indices, never the
        example's own row, so a consumer may gather embeddings for every slot and drop the masked ones afterwards.
        """
        padding = self._padding_for(examples.rows)
        user_rows, user_mask = self.users.draw_from(examples.users, examples.user_own, set_size, padding, rng)
        business_rows, business_mask = self.businesses.draw_from(
            examples.businesses, examples.business_own, set_size, padding, rng
        )
        return user_rows, user_mask, business_rows, business_mask

    def whole_pool_sets(
        self, side: str, groups: np.ndarray, set_size: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sets of each user's (``side`` "user") or business's ("business") whole pool, no review left out: what
        a ranker pairs with every item. Rows [n, set_size] and masks, as ``draw_sets``."""
        pools = {"user": self.users, "business": self.businesses}[side]
        groups = np.asarray(groups, dtype=np.int64)
        padding = self._padding_for(np.full(len(groups), -1))
        return pools.draw_from(groups, pools.group_size(groups), set_size, padding, rng)

    def _padding_for(self, rows: np.ndarray) -> np.ndarray:
        """Per example, the padding row that is not the example itself."""
        return np.where(rows == self.padding_rows[0], self.padding_rows[1], self.padding_rows[0])

    @cached_property
    def _first_review_of_pair(self) -> pd.Series:
        """(user group, business group) -> the row of the user's first review of the business; built once."""
        pairs = pd.MultiIndex.from_arrays([self.users.group, self.businesses.group])
        reviews = pd.Series(np.arange(len(self.splits)), pairs)
        return reviews[~reviews.index.duplicated(keep="first")]

    def _review_rows(self, user_groups: np.ndarray, business_groups: np.ndarray) -> np.ndarray:
        """The row of the user's review of the business (the first, if several), or -1."""
        wanted = pd.MultiIndex.from_arrays([user_groups, business_groups])
        return self._first_review_of_pair.reindex(wanted).fillna(-1).to_numpy(np.int64)

    def mean_features(self, matrix: np.ndarray | sp.spmatrix, examples: Examples) -> np.ndarray | sp.csr_matrix:
        """[n, 2 d]: the mean of each example's user pool, then of its business pool, over the rows of ``matrix``.

        An empty pool averages to zeros: for z-scored embeddings that is the train mean, a neutral value (how many
        examples have one is in ``pool_statistics``). A sparse matrix gives a CSR result and is never densified.
        """
        dtype = np.result_type(matrix.dtype, np.float32)
        halves = [
            pools.averaging_matrix(group, own, matrix.shape[0], dtype) @ matrix
            for pools, group, own in (
                (self.users, examples.users, examples.user_own),
                (self.businesses, examples.businesses, examples.business_own),
            )
        ]
        if sp.issparse(matrix):
            return sp.hstack(halves, format="csr")
        return np.hstack([np.asarray(half) for half in halves])

    def pool_label_counts(self, labels: np.ndarray, n_labels: int, examples: Examples) -> np.ndarray:
        """[n, 2, n_labels]: how many reviews of each label each example's user pool, then business pool, holds."""
        counts = np.zeros((len(examples), 2, n_labels))
        for side, (pools, group, own) in enumerate((
            (self.users, examples.users, examples.user_own),
            (self.businesses, examples.businesses, examples.business_own),
        )):
            example, member = pools.pool_entries(group, own)
            flat = np.bincount(example * n_labels + labels[member], minlength=len(examples) * n_labels)
            counts[:, side] = flat.reshape(len(examples), n_labels)
        return counts

    def pool_statistics(self, set_size: int) -> dict:
        """Per split: examples, and how many have an empty or a short (fewer than ``set_size``) user / business pool."""
        statistics = {}
        for split in SPLITS:
            examples = self.examples(self.rows_of(split))
            entry = {"examples": len(examples)}
            for name, pools, group, own in (
                ("user", self.users, examples.users, examples.user_own),
                ("business", self.businesses, examples.businesses, examples.business_own),
            ):
                sizes = pools.pool_sizes(group, own)
                entry[f"{name}_pool_empty"] = int(np.sum(sizes == 0))
                entry[f"{name}_pool_short"] = int(np.sum((sizes > 0) & (sizes < set_size)))
                entry[f"{name}_pool_median"] = float(np.median(sizes)) if len(examples) else None
            statistics[split] = entry
        return statistics
