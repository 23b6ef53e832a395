"""sipwire.mutations: the bad-input classes without hypothesis, driven by random.Random."""

from __future__ import annotations

import random

import pytest

import sipwire
from sipwire import mutations


@pytest.mark.parametrize("name", sorted(mutations.MUTATIONS))
def test_each_class_breaks_the_example_the_same_way_for_a_seed(name: str, invite: bytes) -> None:
    outs = []
    for _ in range(2):
        rng = mutations.RandomChooser(random.Random(f"{name}-1"))
        outs.append([mutations.mutate(invite, name, rng) for _ in range(20)])
    assert outs[0] == outs[1]
    assert any(o != invite for o in outs[0]), "the class never changed the message"
    for data in outs[0]:
        try:
            sipwire.parse(data, strict=False)
        except sipwire.ParseError:
            pass


def test_unknown_class_names_the_known_ones(invite: bytes) -> None:
    rng = mutations.RandomChooser(random.Random(1))
    with pytest.raises(ValueError, match="unknown hostile class 'nope'; choose from"):
        mutations.mutate(invite, "nope", rng)


def test_strategies_offer_the_same_names() -> None:
    strategies = pytest.importorskip("sipwire.strategies")

    assert sorted(strategies.HOSTILE_CLASSES) == sorted(mutations.MUTATIONS)
