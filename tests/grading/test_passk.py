import re
from fractions import Fraction
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s2lpo_cli.grading.passk import pass_at_k


def exact(n, c, k):
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def test_hand_computed_values():
    assert pass_at_k(3, 1, 2) == pytest.approx(2 / 3)  # 1 - C(2,2)/C(3,2) = 1 - 1/3
    assert pass_at_k(4, 2, 2) == pytest.approx(5 / 6)  # 1 - C(2,2)/C(4,2) = 1 - 1/6
    assert pass_at_k(16, 0, 8) == 0.0
    assert pass_at_k(16, 16, 1) == 1.0
    assert pass_at_k(5, 3, 1) == pytest.approx(3 / 5)  # pass@1 is the share correct
    assert pass_at_k(5, 1, 5) == 1.0  # fewer wrong samples than k: certain


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_matches_the_exact_binomial_formula(nck):
    n, c, k = nck
    assert pass_at_k(n, c, k) == pytest.approx(float(exact(n, c, k)), abs=1e-12)


def test_stable_where_binomials_overflow_floats():
    # C(2000, 1000) ~ 1e600 is beyond float range; the product form has no trouble
    assert pass_at_k(2000, 3, 1000) == pytest.approx(float(exact(2000, 3, 1000)), abs=1e-12)


@pytest.mark.parametrize("n,c,k", [(3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)])
def test_rejects_impossible_counts(n, c, k):
    message = f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}"
    with pytest.raises(ValueError, match=re.escape(message)):
        pass_at_k(n, c, k)
