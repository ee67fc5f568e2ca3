"""Drop a freshly composed clip into a DAW project folder.

Run it next to your project (Reaper, Ableton, Logic, Bitwig: any DAW that imports MIDI):

    python examples/compose_for_daw.py ~/Music/MyProject --bars 8 --tempo 92
    python examples/compose_for_daw.py ~/Music/MyProject --primer ~/Music/MyProject/intro.mid

Each run writes muse_clips/clip_<seed>.mid with a new random seed and prints the seed: give
--seed to get the same clip again.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import muse_gan


def write_clip(
    project: Path,
    bars: int = 8,
    seed: int | None = None,
    tempo: float | None = None,
    primer: Path | None = None,
    model: str | None = None,
) -> Path:
    """Compose ``bars`` bars (continuing ``primer`` if given) into PROJECT/muse_clips/."""
    seed = random.randrange(2**31) if seed is None else seed
    clip = muse_gan.load(model).compose(bars=bars, seed=seed, tempo=tempo, primer=primer)
    folder = Path(project) / "muse_clips"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"clip_{seed}.mid"
    clip.write(path)  # .mid: the same bytes as `muse compose -o clip.mid`
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="your DAW project's folder")
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--tempo", type=float, help="quarter notes per minute (match your project)")
    parser.add_argument("--primer", type=Path, help="a MIDI clip to continue")
    parser.add_argument("--model", help="bundled model name, run folder or checkpoint")
    arguments = parser.parse_args()
    path = write_clip(
        arguments.project,
        arguments.bars,
        arguments.seed,
        arguments.tempo,
        arguments.primer,
        arguments.model,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
