"""Trajectory vectors from message vectors.

A static embedding of a text is the mean of its tokens' vectors, so the
vector of a trajectory's view (its messages' tokens, each message tokenized
on its own) is the token-weighted mean of its messages' vectors: each
distinct message is embedded once, however many trajectories share it (the
trajectories of one tree share their early turns).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse

from trellis.evaluation.embedders import Vectors


def compose_mean(
    group_index: npt.NDArray[np.int64],
    message_index: npt.NDArray[np.int64],
    message_vectors: Vectors,
    message_tokens: npt.NDArray[np.int64],
    group_count: int,
) -> Vectors:
    """Token-weighted mean of message vectors per group.

    group_index[i] and message_index[i] say that occurrence i of a message
    belongs to that group (a message repeated in one trajectory counts once
    per occurrence). A group whose messages hold no tokens gets the zero vector,
    as the embedder gives an empty text.
    """
    weights = message_tokens[message_index].astype(np.float32)
    matrix = scipy.sparse.csr_matrix(
        (weights, (group_index, message_index)), shape=(group_count, len(message_vectors))
    )
    # float32 throughout: a view's sum runs over its messages only, and a
    # float64 copy of every message vector cost more than the product.
    sums = np.asarray(matrix @ np.asarray(message_vectors, np.float32))
    totals = np.bincount(group_index, weights=weights, minlength=group_count)
    sums /= np.maximum(totals, 1.0).astype(np.float32)[:, None]
    return sums
