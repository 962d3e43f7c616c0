"""Generator states survive a checkpoint round trip, and are restored at the first resumed batch."""

import io
import random

import numpy as np
import torch

from seqkit.tasks.rng import KEY, ResumableRandomness, capture_rng_states, restore_rng_states


def _draw() -> tuple:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)], np.random.randn()


def test_restored_states_repeat_the_same_draws_from_torch_numpy_and_python():
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    np.random.randn()  # leaves a cached Gaussian in numpy's state, which must travel too
    states = capture_rng_states()
    expected = _draw()
    _draw()  # move every generator on
    restore_rng_states(states)
    assert _draw() == expected


def test_states_load_with_weights_only_and_still_restore():
    torch.manual_seed(4), np.random.seed(5), random.seed(6)
    buffer = io.BytesIO()
    torch.save({KEY: capture_rng_states()}, buffer)
    expected = _draw()
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)[KEY]
    restore_rng_states(loaded)
    assert _draw() == expected


def test_module_restores_on_the_first_training_batch_only():
    module = ResumableRandomness()
    checkpoint: dict = {}
    torch.manual_seed(7)
    module.on_save_checkpoint(checkpoint)
    expected = torch.rand(4)

    torch.manual_seed(99)
    resumed = ResumableRandomness()
    resumed.on_load_checkpoint(checkpoint)
    assert not torch.equal(torch.rand(4), expected)  # loading alone does not touch the generators
    resumed.on_train_batch_start(batch=None, batch_idx=0)
    assert torch.equal(torch.rand(4), expected)
    after_first = torch.rand(4)
    resumed.on_train_batch_start(batch=None, batch_idx=1)  # later batches leave the generator alone
    assert not torch.equal(torch.rand(4), after_first)
