from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from archsearch.controllers.lstm import LSTMController
from archsearch.core import LINKS
from archsearch.errors import ConfigError, InvalidArchitectureError


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _hand_lstm_step(ctrl: LSTMController, x: np.ndarray, state: list) -> tuple[np.ndarray, list]:
    """The LSTM equations written out (gate order i, f, g, o as in torch)."""
    new_state = []
    for cell, (h, c) in zip(ctrl.cells, state, strict=True):
        w_ih, w_hh = cell.weight_ih.detach().numpy(), cell.weight_hh.detach().numpy()
        b = cell.bias_ih.detach().numpy() + cell.bias_hh.detach().numpy()
        z = w_ih @ x + w_hh @ h + b
        i, f, g, o = np.split(z, 4)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        new_state.append((h, c))
        x = h
    return x, new_state


def _hand_log_prob(ctrl: LSTMController, space, values, shape=lambda logits: logits) -> float:
    """Log-probability of ``values`` written out; ``shape`` maps raw logits to the ones the policy uses."""
    n = ctrl.hidden_size
    state = [(np.zeros(n), np.zeros(n)) for _ in range(ctrl.num_layers)]
    x = ctrl.start.detach().numpy()[0]
    anchors: list[np.ndarray] = []
    total = 0.0
    for k, value in enumerate(values):
        decision = space.decisions(tuple(values[:k]))
        h, state = _hand_lstm_step(ctrl, x, state)
        if decision.kind == LINKS:
            w_prev = ctrl.w_prev.weight.detach().numpy()
            w_curr = ctrl.w_curr.weight.detach().numpy()
            v = ctrl.v.weight.detach().numpy()[0]
            for j in range(decision.num_links):
                p = _sigmoid(shape(v @ np.tanh(w_prev @ anchors[j] + w_curr @ h)))
                total += math.log(p if j in value else 1 - p)
            anchors.append(h)
            x = ctrl.links_input.detach().numpy()[0]
        else:
            head = ctrl.heads[decision.kind]
            logits = shape(head.weight.detach().numpy() @ h + head.bias.detach().numpy())
            index = decision.choices.index(value)
            total += logits[index] - math.log(np.exp(logits).sum())
            x = ctrl.embeddings[decision.kind].weight.detach().numpy()[index]
    return total


def test_log_prob_matches_hand_computed_lstm_and_anchor_attention(toy_space):
    ctrl = LSTMController(
        toy_space.kinds(),
        hidden_size=7,
        num_layers=2,
        init_range=0.5,
        generator=torch.Generator().manual_seed(3),
    )
    values = ((), 3, 5, (0,), 1, 7, (0, 1), 3, 3)
    got = ctrl.walk(toy_space, values).log_prob.item()
    assert got == pytest.approx(_hand_log_prob(ctrl, toy_space, values), abs=1e-5)
    values_no_links = ((), 7, 7, (), 1, 1, (1,), 5, 3)
    got = ctrl.walk(toy_space, values_no_links).log_prob.item()
    assert got == pytest.approx(_hand_log_prob(ctrl, toy_space, values_no_links), abs=1e-5)


def test_enas_logit_shaping_matches_hand_computed_tanh_of_scaled_logits(toy_space):
    kwargs = {"hidden_size": 5, "num_layers": 1, "init_range": 0.9}
    plain = LSTMController(toy_space.kinds(), generator=torch.Generator().manual_seed(4), **kwargs)
    shaped = LSTMController(
        toy_space.kinds(),
        generator=torch.Generator().manual_seed(4),
        temperature=5.0,
        tanh_constant=1.1,
        **kwargs,
    )
    values = ((), 3, 5, (0,), 1, 7, (0, 1), 3, 3)
    expected = _hand_log_prob(shaped, toy_space, values, lambda logits: 1.1 * np.tanh(logits / 5.0))
    assert shaped.walk(toy_space, values).log_prob.item() == pytest.approx(expected, abs=1e-5)
    log_probs, _ = shaped.score(toy_space, [values])
    assert log_probs[0].item() == pytest.approx(expected, abs=1e-5)
    # same weights, so the difference is the shaping alone
    assert plain.walk(toy_space, values).log_prob.item() == pytest.approx(
        _hand_log_prob(plain, toy_space, values), abs=1e-5
    )
    assert abs(plain.walk(toy_space, values).log_prob.item() - expected) > 0.1


def test_tanh_constant_bounds_the_choice_probabilities(toy_space):
    # |logit| <= c, so with k choices no probability exceeds e^c / (e^c + (k - 1) e^-c)
    bound = math.exp(0.5) / (math.exp(0.5) + 3 * math.exp(-0.5))  # filter_h has 4 choices
    for tanh_constant, within in ((None, False), (0.5, True)):
        ctrl = LSTMController(
            toy_space.kinds(),
            init_range=3.0,
            generator=torch.Generator().manual_seed(1),
            tanh_constant=tanh_constant,
        )
        probs = [math.exp(ctrl.walk(toy_space, ((), h)).log_prob.item()) for h in (1, 3, 5, 7)]
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert (max(probs) <= bound + 1e-6) is within


@pytest.mark.parametrize("bad", [0.0, -1.0, "hot", True])
def test_bad_shaping_constants_are_config_errors(toy_space, bad):
    with pytest.raises(ConfigError, match="temperature"):
        LSTMController(toy_space.kinds(), temperature=bad)
    with pytest.raises(ConfigError, match="tanh_constant"):
        LSTMController(toy_space.kinds(), tanh_constant=bad)


def test_sampled_values_are_valid_and_rescored_identically(toy_space):
    ctrl = LSTMController(toy_space.kinds())
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        trace = ctrl.walk(toy_space, generator=gen)
        assert len(trace.values) == 9
        from archsearch.core import Architecture

        toy_space.validate(Architecture("toy", trace.values))
        assert ctrl.walk(toy_space, trace.values).log_prob.item() == pytest.approx(
            trace.log_prob.item(), abs=1e-6
        )


def test_initial_weights_are_uniform_in_init_range(toy_space):
    ctrl = LSTMController(toy_space.kinds(), init_range=0.08)
    flat = torch.cat([p.detach().flatten() for p in ctrl.parameters()])
    assert flat.abs().max() <= 0.08
    assert flat.std() > 0.03  # spread over the range, not all zero


def test_same_generator_seed_gives_same_samples(toy_space):
    ctrl = LSTMController(toy_space.kinds())
    a = [ctrl.walk(toy_space, generator=torch.Generator().manual_seed(5)).values for _ in range(3)]
    assert a[0] == a[1] == a[2]


def test_scoring_a_value_outside_the_choices_is_rejected(toy_space):
    ctrl = LSTMController(toy_space.kinds())
    with pytest.raises(InvalidArchitectureError, match="layer0.filter_h"):
        ctrl.walk(toy_space, ((), 4, 3))
    with pytest.raises(InvalidArchitectureError, match="layer1.inputs"):
        ctrl.walk(toy_space, ((), 3, 3, (2,), 3, 3))


def test_batched_scoring_equals_one_by_one_walks_for_mixed_depths(toy_space):
    from conftest import ToyLayerSpace

    space = ToyLayerSpace(num_layers=3)
    ctrl = LSTMController(space.kinds(), init_range=0.3)
    gen = torch.Generator().manual_seed(1)
    batch = [ctrl.walk(space, generator=gen).values for _ in range(5)]
    batch += [((), 3, 5), ((), 1, 1, (0,), 7, 7)]  # shallower architectures (a depth curriculum)
    log_probs, entropies = ctrl.score(space, batch)
    for i, values in enumerate(batch):
        trace = ctrl.walk(space, values)
        assert log_probs[i].item() == pytest.approx(trace.log_prob.item(), abs=1e-5)
        assert entropies[i].item() == pytest.approx(trace.entropy.item(), abs=1e-5)
    log_probs.sum().backward()  # differentiable
    assert ctrl.heads["filter_h"].bias.grad is not None


def test_batched_scoring_rejects_values_outside_the_space(toy_space):
    ctrl = LSTMController(toy_space.kinds())
    with pytest.raises(InvalidArchitectureError, match="layer0.filter_h"):
        ctrl.score(toy_space, [((), 3, 3), ((), 4, 3)])
