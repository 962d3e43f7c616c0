import fractions

import pytest
import torch

from seqkit.checkpoints import UntrustedCheckpointError, read_plain_checkpoint


def test_reads_tensors_and_plain_data(tmp_path):
    path = tmp_path / "c.ckpt"
    torch.save({"state_dict": {"encoder.w": torch.ones(2)}, "hyper_parameters": {"lr": 0.1}}, path)
    checkpoint = read_plain_checkpoint(path)
    assert torch.equal(checkpoint["state_dict"]["encoder.w"], torch.ones(2))
    assert checkpoint["hyper_parameters"] == {"lr": 0.1}


def test_a_missing_file_is_named_with_what_it_was_for(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"encoder checkpoint .*nope\.ckpt not found"):
        read_plain_checkpoint(tmp_path / "nope.ckpt", "encoder checkpoint")


def test_refuses_pickled_objects(tmp_path):
    path = tmp_path / "objects.ckpt"
    torch.save({"state_dict": {}, "extra": fractions.Fraction(1, 3)}, path)  # not on weights_only's allow-list
    with pytest.raises(UntrustedCheckpointError, match=r"objects\.ckpt: holds more than tensors and plain data.*saved another way"):
        read_plain_checkpoint(path)
