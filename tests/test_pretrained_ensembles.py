"""Model cards of the bundled ensembles whose TTA is not their members' own card TTA (see
``CARDS_APART`` in test_pretrained.py): checked in their own file so that pytest-xdist runs them
in another worker than the other cards."""
from __future__ import annotations

import pytest

from tests.test_pretrained import CARDS_APART, _shipped_shelf, check_card, fer2013_dataset  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(not CARDS_APART, reason="no bundled ensemble with a TTA of its own")


@pytest.mark.slow
@pytest.mark.parametrize("bid", CARDS_APART)
def test_card_figures_match_a_fresh_evaluation(bid, fer2013_dataset):
    check_card(bid, fer2013_dataset)
