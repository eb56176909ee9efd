"""The log-mel spectrogram F5-TTS and Vocos are trained on (torchaudio's MelSpectrogram with
Vocos's settings: 24 kHz, n_fft 1024, hop 256, 100 HTK mel bands, magnitude, centred with reflect
padding, then log of the magnitude clamped at 1e-5), computed with torch alone."""

import math

import torch

SAMPLE_RATE = 24000
N_FFT = 1024
HOP = 256
MELS = 100


def _hz_to_mel(hz: float) -> float:
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def mel_filters(
    mels: int = MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE
) -> torch.Tensor:
    """[n_fft // 2 + 1, mels] triangular HTK filters, unnormalised (torchaudio's defaults)."""
    frequencies = torch.linspace(0, sample_rate // 2, n_fft // 2 + 1)
    low, high = _hz_to_mel(0.0), _hz_to_mel(sample_rate / 2)
    mel_points = torch.linspace(low, high, mels + 2)
    hz_points = 700.0 * (10 ** (mel_points / 2595.0) - 1.0)
    widths = hz_points[1:] - hz_points[:-1]
    slopes = hz_points.unsqueeze(0) - frequencies.unsqueeze(1)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


_FILTERS = mel_filters()


def log_mel(audio: torch.Tensor) -> torch.Tensor:
    """[samples] mono float at 24 kHz → [frames, 100] log-mel, frames = samples // 256 + 1."""
    spectrum = torch.stft(
        audio.float(),
        N_FFT,
        hop_length=HOP,
        win_length=N_FFT,
        window=torch.hann_window(N_FFT),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    ).abs()
    return (spectrum.T @ _FILTERS).clamp(min=1e-5).log()
