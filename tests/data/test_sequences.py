import torch

from seqkit.data.sequences import SequenceDataModule, SequenceDataset, collate_sequences


class _Ramps(SequenceDataset):
    def __init__(self, lengths):
        self.lengths = lengths

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, index):
        return {"id": f"s{index}", "inputs": torch.full((self.lengths[index], 2), float(index)), "label": index % 3}


class _Module(SequenceDataModule):
    labels = ["a", "b", "c"]
    input_size = 2

    def dataset(self, split):
        return _Ramps([3, 9, 4, 8, 5, 7, 6, 2, 10, 1])


def test_collate_pads_with_zeros_and_keeps_lengths():
    items = [{"id": "x", "inputs": torch.ones(2, 3), "label": 1}, {"id": "y", "inputs": torch.ones(4, 3), "label": 0, "group": "v"}]
    batch = collate_sequences(items)
    assert batch["inputs"].shape == (2, 4, 3)
    assert batch["inputs"][0, 2:].abs().sum() == 0
    assert batch["lengths"].tolist() == [2, 4] and batch["lengths"].dtype == torch.long
    assert batch["labels"].tolist() == [1, 0]
    assert batch["groups"] == ["x", "v"] and batch["ids"] == ["x", "y"]


def test_batches_hold_at_most_batch_size_similar_lengths_and_cover_the_set():
    module = _Module(batch_size=3, num_buckets=2, seed=1)
    batches = list(module.train_dataloader())
    assert all(len(b["ids"]) <= 3 for b in batches)
    assert sorted(i for b in batches for i in b["ids"]) == sorted(f"s{i}" for i in range(10))
    # Evaluation batches follow the sorted lengths: padding stays small.
    batches = list(module.val_dataloader())
    padded = sum(b["inputs"].shape[0] * b["inputs"].shape[1] for b in batches)
    assert padded <= sum(b["lengths"].sum().item() for b in batches) * 1.3
