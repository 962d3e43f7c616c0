import pytest
import torch
from torch.nn import functional as F

from seqkit.heads.classification import ClassificationHead


def test_logits_shape_and_fp32_under_autocast():
    head = ClassificationHead(8, 5, pooling="mean")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = head(torch.randn(3, 7, 8), torch.tensor([7, 3, 1]))
    assert logits.shape == (3, 5) and logits.dtype == torch.float32


def test_loss_is_mean_cross_entropy_with_smoothing_and_weights():
    head = ClassificationHead(4, 3, label_smoothing=0.1, class_weights=[1.0, 2.0, 0.5])
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 2])
    expected = F.cross_entropy(logits, labels, weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)
    torch.testing.assert_close(head.loss(logits, labels), expected)
    plain = ClassificationHead(4, 3)
    # Hand-computed: -log softmax at the true class, averaged.
    by_hand = -(logits.log_softmax(-1)[torch.arange(2), labels]).mean()
    torch.testing.assert_close(plain.loss(logits, labels), by_hand)


def test_class_weights_must_match_classes():
    with pytest.raises(ValueError, match="3 entries for 4 classes"):
        ClassificationHead(4, 4, class_weights=[1.0, 1.0, 1.0])
