"""F5-TTS with the Vocos vocoder: TensorRT engines, ONNX Runtime and PyTorch backends."""
