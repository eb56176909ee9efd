"""ONNX export (opset 17) of the runtime's torch modules, for ONNX Runtime and TensorRT's parser."""

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import onnx
import torch

from runtimes.tensorrt.vocoder import Vocoder

OPSET = 17
VOCODER_INPUT = "mel"
VOCODER_OUTPUT = "audio"


def export_onnx(
    module: torch.nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
) -> Path:
    """Writes module as a checked ONNX graph to path; the named axes stay symbolic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    module.eval()
    # The TorchScript exporter takes dynamic_axes as they are and needs no onnxscript; its
    # notices that it is the older of torch's two exporters are expected here.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module,
            example_inputs,
            str(path),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes={name: dict(axes) for name, axes in dynamic_axes.items()},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(str(path))
    return path


def export_vocoder(vocoder: Vocoder, path: Path, example_frames: int = 64) -> Path:
    """The vocoder as ONNX: mel [batch, n_mels, frames] → audio [batch, frames * hop]."""
    parameter = next(vocoder.parameters())
    # A batch of 2 keeps the exporter from specialising any shape to a batch of 1.
    example = torch.randn(
        2, vocoder.config.n_mels, example_frames, device=parameter.device, dtype=parameter.dtype
    )
    return export_onnx(
        vocoder,
        (example,),
        path,
        input_names=[VOCODER_INPUT],
        output_names=[VOCODER_OUTPUT],
        dynamic_axes={
            VOCODER_INPUT: {0: "batch", 2: "frames"},
            VOCODER_OUTPUT: {0: "batch", 1: "samples"},
        },
    )
