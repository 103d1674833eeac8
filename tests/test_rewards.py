from __future__ import annotations

import pytest

from archsearch.core import Result
from archsearch.errors import ConfigError
from archsearch.rewards import make_reward


def test_acc_cubed_uses_the_best_of_the_last_five_epochs():
    reward = make_reward("acc_cubed")
    result = Result(curve={"val_acc": [0.99, 0.5, 0.6, 0.7, 0.8, 0.9, 0.85]})
    assert reward(result) == pytest.approx(0.9**3)  # 0.99 is six epochs back
    assert reward(Result.failure("nan")) == 0.0


def test_perplexity_reward_is_c_over_ppl_squared():
    reward = make_reward("ppl_inverse_square")
    assert reward(Result(metrics={"val_ppl": 80.0})) == pytest.approx(80 / 80**2)
    assert reward(Result(curve={"val_ppl": [200.0, 100.0]}, metrics={"val_ppl": 100.0})) == pytest.approx(
        0.008
    )
    assert make_reward("ppl_inverse_square", c=1.0, window=2)(Result(curve={"val_ppl": [10.0, 20.0]})) == 0.01


def test_unknown_reward_names_and_options_are_config_errors():
    with pytest.raises(ConfigError, match="unknown reward 'acc'"):
        make_reward("acc")
    with pytest.raises(ConfigError, match="bad options"):
        make_reward("acc_cubed", windows=3)
    with pytest.raises(ConfigError, match="not in the result"):
        make_reward("acc_cubed", metric="f1")(Result(metrics={"val_acc": 0.5}))
