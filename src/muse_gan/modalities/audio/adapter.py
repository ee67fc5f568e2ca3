"""Sound as log-mel spectrograms, for the audio modality.

Items are mono float waveforms at ``audio.sample_rate``, one clip of ``audio.frames`` STFT hops
each. Encoded clips are ``uint8`` log-mel spectrograms ``(1, frames, mels)`` (time first, low
mels first), 0 being ``audio.db_range`` dB or more below full scale and 255 full scale; models see
floats from 0 to 1. Spectrograms come from ``torch.stft`` and a librosa mel filterbank; they
decode to sound by Griffin-Lim phase recovery in torch. No torchaudio (see the README).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import torch

from ...core.adapter import Animates, LabelledAdapter
from ...core.spec import Spec
from ...errors import ConfigError, DataError
from ..image.adapter import gif_bytes
from ..midi.render import wav_bytes
from ..registry import ADAPTERS
from .notes import notes_files
from .settings import AudioConfig

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
EPSILON = 1e-10


@ADAPTERS.register("audio")
class AudioAdapter(LabelledAdapter, Animates):
    """Clips are not augmented: stretching or shifting them would change their pitch or timing."""

    modality = "audio"
    settings_class = AudioConfig
    item_name = "clip"
    suffixes = AUDIO_SUFFIXES
    formats = (".wav", ".png")
    sample_formats = (".wav", ".png")
    preview_count = 8
    evaluation_count = 100
    frame_name = "frames"

    def __init__(self, settings: AudioConfig = AudioConfig(), classes: tuple[str, ...] = ()):
        _check(settings)
        super().__init__(settings, classes)
        self.clip_samples = settings.frames * settings.hop
        self._filters = None

    @property
    def corpora(self) -> dict:
        return {"notes": lambda: notes_files(self.settings.sample_rate)}

    @property
    def spec(self) -> Spec:
        return Spec(
            "continuous",
            channels=1,
            width=self.settings.mels,
            length=self.settings.frames,
            classes=len(self.classes),
            channel_tracks=False,
        )

    # files → items

    def read(self, path: str | Path) -> list[np.ndarray]:
        """The file's sound as mono clips of ``frames * hop`` samples at the configured rate:
        consecutive clips of a long file, and a short last one padded with silence, or left
        out (``audio.short = "skip"``). Silent clips are left out."""
        waveform = self.load(path)
        clips = [
            waveform[start : start + self.clip_samples]
            for start in range(0, len(waveform), self.clip_samples)
        ]
        if len(clips[-1]) < self.clip_samples:
            if self.settings.short == "skip" or (
                len(clips) > 1 and len(clips[-1]) < self.clip_samples // 4
            ):
                clips.pop()  # a scrap at the end of a long file is not worth a clip of its own
            else:
                clips[-1] = np.pad(clips[-1], (0, self.clip_samples - len(clips[-1])))
        clips = [clip for clip in clips if np.abs(clip).max() > SILENCE]
        if not clips:
            raise DataError(
                f"{path}: no clip of {self.clip_samples / self.settings.sample_rate:.2f} s with sound in it"
            )
        return clips

    def load(self, path: str | Path) -> np.ndarray:
        """A whole sound file as mono float32 at the configured rate."""
        import soundfile

        try:
            _check_size(path, soundfile.info(str(path)))
            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except DataError:
            raise
        except Exception as error:  # libsndfile refuses bad bytes with several kinds of errors
            raise DataError(f"{path}: not a readable sound file ({_reason(error)})") from None
        if samples.size == 0:
            raise DataError(f"{path}: holds no samples")
        if not np.isfinite(samples).all():
            raise DataError(f"{path}: holds samples that are not finite numbers")
        mono = samples.mean(axis=1)
        if np.abs(mono).max() <= SILENCE:
            raise DataError(f"{path}: silent")
        if rate != self.settings.sample_rate:
            import librosa

            mono = librosa.resample(mono, orig_sr=rate, target_sr=self.settings.sample_rate)
        return mono.astype(np.float32)

    # items ⇄ tensors

    def encode(self, clip: np.ndarray) -> torch.Tensor:
        """A clip's log-mel spectrogram as ``uint8`` ``(1, frames, mels)``."""
        clip = np.asarray(clip, dtype=np.float32)[: self.clip_samples]
        clip = np.pad(clip, (0, self.clip_samples - len(clip)))
        values = self.spectrogram(torch.from_numpy(clip))
        return (values * 255).round().to(torch.uint8)[None]

    def values(self, stored: torch.Tensor) -> torch.Tensor:
        """Stored ``uint8`` spectrograms → the floats from 0 to 1 models see."""
        return stored.float() / 255

    def spectrogram(self, waveform: torch.Tensor) -> torch.Tensor:
        """Log-mel values from 0 to 1, ``(frames, mels)``, of a waveform of ``frames * hop`` samples."""
        magnitudes = self._stft(waveform).abs()  # (bins, frames)
        mel = self.filters() @ magnitudes
        decibels = 20 * torch.log10(mel.clamp(min=EPSILON) / self.full_scale())
        return ((decibels + self.settings.db_range) / self.settings.db_range).clamp(0, 1).T

    def decode(self, values: torch.Tensor) -> np.ndarray:
        """One spectrogram ``(1, frames, mels)`` of values from 0 to 1 → a mono float32 waveform,
        its phase recovered by ``audio.griffin_lim`` iterations of Griffin-Lim (seeded: the same
        spectrogram always gives the same sound)."""
        decibels = (
            values[0].detach().float().cpu().T * self.settings.db_range - self.settings.db_range
        )
        mel = 10 ** (decibels / 20) * self.full_scale()
        # the floor is silence, not -db_range dB
        mel = torch.where(values[0].T > 0, mel, torch.zeros_like(mel))
        return self._griffin_lim(self._linear_magnitudes(mel)).numpy()

    def _linear_magnitudes(self, mel: torch.Tensor) -> torch.Tensor:
        """STFT magnitudes ``(bins, frames)`` back from mel ones: each bin the mel values of the
        filters over it, weighted by the filters and normalised by their total weight there.
        Unlike the pseudo-inverse this never goes negative, so clamping loses no energy
        (measured round-trip error: 0.039 against the pseudo-inverse's 0.075; NNLS: 0.075, 400x slower)."""
        filters = self.filters()
        return (filters.T @ mel) / (filters.T @ filters).sum(1, keepdim=True).clamp(min=EPSILON)

    def file_bytes(self, items: torch.Tensor, suffix: str) -> bytes:
        """Spectrograms ``(count, 1, frames, mels)`` (or one) as a WAV (one after another, a
        short silence between) or as a PNG of their spectrograms side by side."""
        items = items[None] if items.dim() == 3 else items
        suffix = suffix.lower()
        if suffix == ".wav":
            gap = np.zeros(self.settings.sample_rate // 4, dtype=np.float32)
            sound = np.concatenate(
                [part for item in items for part in (self.decode(item), gap)][:-1]
            )
            return wav_bytes(sound, self.settings.sample_rate)
        if suffix == ".png":
            return spectrogram_png(torch.cat(list(items[:, 0]), dim=0))
        raise DataError(f"cannot write '{suffix}' files from an audio model (known: .wav, .png)")

    def animation_bytes(self, frames: torch.Tensor, seconds_per_frame: float = 0.08) -> bytes:
        """Spectrograms ``(count, 1, frames, mels)`` as the pictures of a GIF that loops forever."""
        return gif_bytes([spectrogram_picture(frame[0]) for frame in frames], seconds_per_frame)

    def judge(self, options):
        from .judge import AudioJudge

        return AudioJudge(self, options)

    # the transforms

    def filters(self) -> torch.Tensor:
        """The librosa mel filterbank ``(mels, bins)``, made once."""
        if self._filters is None:
            import librosa

            settings = self.settings
            self._filters = torch.from_numpy(
                librosa.filters.mel(
                    sr=settings.sample_rate,
                    n_fft=settings.n_fft,
                    n_mels=settings.mels,
                    fmin=settings.fmin,
                    fmax=settings.fmax,
                )
            ).float()
        return self._filters

    def full_scale(self) -> float:
        """The largest mel magnitude of a full-scale sine: 0 dB."""
        # a Hann window's gain on a sine: n_fft / 4
        return float(self.filters().max()) * self.settings.n_fft / 4

    def _stft(self, waveform: torch.Tensor) -> torch.Tensor:
        settings = self.settings
        spectrum = torch.stft(
            waveform,
            settings.n_fft,
            settings.hop,
            window=torch.hann_window(settings.n_fft),
            center=True,
            return_complex=True,
        )
        return spectrum[:, : settings.frames]  # center=True adds one frame past the end

    def _griffin_lim(self, magnitudes: torch.Tensor) -> torch.Tensor:
        """A waveform whose STFT magnitudes approach ``magnitudes`` ``(bins, frames)``: the fast
        variant (Perraudin et al. 2013, momentum 0.99) from a seeded random phase."""
        settings = self.settings
        window = torch.hann_window(settings.n_fft)
        padded = torch.nn.functional.pad(magnitudes, (0, 1))  # the frame center=True adds
        generator = torch.Generator().manual_seed(0)
        angles = torch.exp(2j * math.pi * torch.rand(padded.shape, generator=generator))
        previous = torch.zeros_like(angles)
        for _ in range(settings.griffin_lim):
            waveform = torch.istft(
                padded * angles,
                settings.n_fft,
                settings.hop,
                window=window,
                length=self.clip_samples,
            )
            rebuilt = torch.stft(
                waveform, settings.n_fft, settings.hop, window=window, return_complex=True
            )
            accelerated = rebuilt - 0.99 * previous
            previous = rebuilt
            angles = accelerated / accelerated.abs().clamp(min=EPSILON)
        return torch.istft(
            padded * angles, settings.n_fft, settings.hop, window=window, length=self.clip_samples
        )


SILENCE = 1e-4  # a clip whose loudest sample is below this (-80 dB) counts as silent
MAX_SECONDS = 3600  # a longer file is refused before it is read: decoded and resampled, it could take gigabytes
MAX_CHANNELS = 64
# Hz; resampling from far below crashed libsoxr (1 Hz to 16 kHz: a segfault)
SOURCE_RATES = (
    1000,
    768_000,
)


def _check_size(path, info) -> None:
    """Refuses, from its header alone, a file that would take unbounded memory to decode and resample."""
    low, high = SOURCE_RATES
    if not low <= info.samplerate <= high:
        raise DataError(f"{path}: a sample rate of {info.samplerate} Hz (usable: {low} to {high})")
    if info.channels > MAX_CHANNELS:
        raise DataError(f"{path}: {info.channels} channels (at most {MAX_CHANNELS})")
    if info.frames > MAX_SECONDS * info.samplerate:
        raise DataError(
            f"{path}: lasts {info.frames / info.samplerate:.0f} s, over {MAX_SECONDS} s"
        )


def spectrogram_png(values: torch.Tensor) -> bytes:
    """``spectrogram_picture`` as PNG bytes."""
    out = io.BytesIO()
    spectrogram_picture(values).save(out, format="PNG")
    return out.getvalue()


def spectrogram_picture(values: torch.Tensor):
    """Values ``(frames, mels)`` from 0 to 1 as a PIL picture: time left to right, low mels at
    the bottom, coloured by the magma scale (dark: quiet; bright: loud), two pixels per cell."""
    from matplotlib import colormaps
    from PIL import Image

    # (mels, frames), high mels on top
    cells = values.detach().float().cpu().clamp(0, 1).T.flip(0).numpy()
    colours = (colormaps["magma"](cells)[..., :3] * 255).round().astype(np.uint8)
    picture = Image.fromarray(colours, "RGB")
    return picture.resize((picture.width * 2, picture.height * 2), Image.Resampling.NEAREST)


def _check(settings: AudioConfig) -> None:
    def fail(key, reason):
        raise ConfigError(f"audio.{key}: {getattr(settings, key)!r} {reason}")

    if not 1000 <= settings.sample_rate <= 192_000:
        fail("sample_rate", "must be from 1000 to 192000 Hz")
    if not 16 <= settings.n_fft <= 65536 or settings.n_fft & (settings.n_fft - 1):
        fail("n_fft", "must be a power of two from 16 to 65536")
    if not 1 <= settings.hop <= settings.n_fft:
        fail("hop", "must be from 1 to n_fft")
    if not 8 <= settings.frames <= 4096:
        fail("frames", "must be from 8 to 4096")
    if not 8 <= settings.mels <= settings.n_fft // 2 + 1:
        fail("mels", "must be from 8 to n_fft / 2 + 1")
    if not 0 <= settings.fmin < settings.fmax <= settings.sample_rate / 2:
        fail("fmax", "need 0 <= fmin < fmax <= sample_rate / 2")
    if not 0 < settings.db_range <= 200:
        fail("db_range", "must be above 0 and at most 200 dB")
    if settings.short not in ("pad", "skip"):
        fail("short", 'must be "pad" or "skip"')
    # each iteration is an inverse and a forward STFT of every clip: 128 take seconds a clip
    if not 0 <= settings.griffin_lim <= 128:
        fail("griffin_lim", "must be from 0 to 128 iterations")


def _reason(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
