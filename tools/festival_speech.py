"""Speak one sentence with the Festival speech synthesiser (Debian's ``festival`` and voices).

Festival adds English voices Flite lacks: ``ked_diphone`` (``festvox-kdlpc16k``, a male
speaker no other engine here has), ``kal_diphone`` (``festvox-kallpc16k``) and
``cmu_us_slt_arctic_hts`` (``festvox-us-slt-hts``, a statistical-parametric voice of the
speaker Flite's ``slt`` is cut from).  Each call runs ``festival -b`` on a short Scheme
script that selects the voice, sets its speaking rate and, for the diphone voices, its mean
pitch, and saves the waveform.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

# Voice -> its own mean F0 in Hz (a speaker's pitch is drawn around it).
VOICES = {"ked_diphone": 100.0, "kal_diphone": 100.0, "cmu_us_slt_arctic_hts": 170.0}
# The HTS voice ignores Festival's pitch target and Duration_Stretch; its engine takes a
# speed factor instead, and keeps its own pitch.
HTS_VOICES = {"cmu_us_slt_arctic_hts"}


def available_voices(binary: str = "festival") -> list[str]:
    """The voices of :data:`VOICES` that ``binary`` lists (error if Festival is missing)."""
    if shutil.which(binary) is None:
        raise FileNotFoundError(f"{binary!r} not found: install Festival (Debian: apt-get install festival "
                                "festvox-kdlpc16k festvox-kallpc16k festvox-us-slt-hts)")
    listed = subprocess.run([binary, "--pipe"], input="(print (voice.list))\n", capture_output=True, text=True,
                            check=True).stdout
    names = set(listed.replace("(", " ").replace(")", " ").split())
    return [voice for voice in VOICES if voice in names]


def scheme_string(text: str) -> str:
    """``text`` as a Scheme string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def script(voice: str, text: str, stretch: float, pitch_hz: float, wav: Path) -> str:
    """The Scheme program that speaks ``text`` into ``wav`` (``stretch`` > 1 is slower)."""
    lines = [f"(voice_{voice})"]
    if voice in HTS_VOICES:
        lines.append(f'(set! hts_engine_params (append {voice}::hts_engine_params (list (list "-r" {1 / stretch:.4f}))))')
    else:
        lines.append(f"(Parameter.set 'Duration_Stretch {stretch:.4f})")
        # Linear-regression intonation: its targets are the voice's F0 mean and spread.
        lines.append(f"(set! int_lr_params '((target_f0_mean {pitch_hz:.1f}) (target_f0_std {0.14 * pitch_hz:.1f}) "
                     "(model_f0_mean 170) (model_f0_std 34)))")
    lines.append(f"(utt.save.wave (utt.synth (Utterance Text {scheme_string(text)})) {scheme_string(str(wav))} 'riff)")
    return "\n".join(lines) + "\n"


def speak(voice: str, text: str, stretch: float, pitch_hz: float, wav: Path,
          binary: str = "festival") -> tuple[np.ndarray, int]:
    """``text`` spoken by ``voice`` as float32 at the voice's own sample rate."""
    program = wav.with_suffix(".scm")
    program.write_text(script(voice, text, stretch, pitch_hz, wav), encoding="utf-8")
    wav.unlink(missing_ok=True)
    done = subprocess.run([binary, "-b", str(program)], capture_output=True, text=True)
    if done.returncode != 0 or not wav.exists():
        raise RuntimeError(f"Festival failed for voice {voice!r} on {text!r}: {done.stderr.strip()[-300:]}")
    audio, rate = sf.read(wav, dtype="float32")
    if audio.size == 0:
        raise RuntimeError(f"Festival produced no audio for voice {voice!r}: {text!r}")
    return audio, rate
