"""An encoder starts from another model's encoder only when every weight fits."""

import pytest
import torch

from seqkit.encoders.pretrained import EncoderInitError, config_differences, copy_encoder_weights
from seqkit.encoders.rnn import RNNEncoder


def _checkpoint_of(encoder: RNNEncoder) -> dict:
    state = {f"encoder.{key}": value for key, value in encoder.state_dict().items()}
    state["head.proj.weight"] = torch.zeros(3, 4)  # other parts are not copied
    return {"state_dict": state}


def test_copies_every_encoder_weight_and_nothing_else():
    torch.manual_seed(0)
    source = RNNEncoder(8, cell="gru", hidden_size=6, num_layers=2)
    target = RNNEncoder(8, cell="gru", hidden_size=6, num_layers=2)
    assert copy_encoder_weights(target, _checkpoint_of(source), "a.ckpt") == len(source.state_dict())
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    inputs, lengths = torch.randn(2, 5, 8), torch.tensor([5, 3])
    assert torch.equal(target.eval()(inputs, lengths)[0], source.eval()(inputs, lengths)[0])


@pytest.mark.parametrize("other", [
    dict(input_size=10, cell="gru", hidden_size=6, num_layers=2),   # another feature size
    dict(input_size=8, cell="lstm", hidden_size=6, num_layers=2),   # another cell
    dict(input_size=8, cell="gru", hidden_size=6, num_layers=1),    # fewer layers
])
def test_refuses_an_encoder_of_another_shape_naming_the_file(other):
    source = RNNEncoder(other.pop("input_size"), **other)
    target = RNNEncoder(8, cell="gru", hidden_size=6, num_layers=2)
    before = {key: value.clone() for key, value in target.state_dict().items()}
    with pytest.raises(EncoderInitError, match="runs/x/last.ckpt: its encoder does not fit"):
        copy_encoder_weights(target, _checkpoint_of(source), "runs/x/last.ckpt")
    assert all(torch.equal(target.state_dict()[key], value) for key, value in before.items())


def test_refuses_a_checkpoint_without_an_encoder():
    with pytest.raises(EncoderInitError, match="b.ckpt: no encoder"):
        copy_encoder_weights(RNNEncoder(8, hidden_size=6), {"state_dict": {"head.w": torch.zeros(1)}}, "b.ckpt")


def test_config_differences_name_each_argument():
    ours = {"class_path": "seqkit.features.spectral.MFCC", "init_args": {"sample_rate": 8000, "n_mfcc": 20}}
    theirs = {"class_path": "seqkit.features.spectral.MFCC", "init_args": {"sample_rate": 16000, "n_mfcc": 20}}
    assert config_differences(ours, theirs) == ["sample_rate: 8000 vs 16000"]
    assert config_differences(ours, ours) == []
