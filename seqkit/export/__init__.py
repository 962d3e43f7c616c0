"""Export of a trained task's inference path to ONNX or TorchScript (``seqkit export``)."""
