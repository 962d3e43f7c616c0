"""eSpeak NG through ctypes, from the ``espeakng-loader`` wheel: offline speech synthesis.

Used to synthesise corpora (``tools/synth_digits.py``) with nothing downloaded and no
``espeak-ng`` binary.  The library keeps state between utterances, so each
:class:`EspeakSynth` loads its own private copy of it.
"""

from __future__ import annotations

import ctypes
import shutil
import tempfile
from pathlib import Path

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE, ESPEAK_PITCH, ESPEAK_RANGE = 1, 3, 4
ESPEAK_INITIALIZE_DONT_EXIT = 0x8000  # without it a bad data path calls exit() in the library
EE_OK = 0


class EspeakUnavailable(RuntimeError):
    """libespeak-ng or its data could not be loaded."""


class _EspeakVoice(ctypes.Structure):
    # espeak_VOICE from speak_lib.h; only ``identifier`` is read, to check a selection.
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def default_espeak_paths() -> tuple[Path, Path]:
    """(libespeak-ng, espeak-ng-data) shipped by the ``espeakng-loader`` wheel."""
    try:
        import espeakng_loader
    except ImportError as err:
        raise EspeakUnavailable(
            "the Python package 'espeakng-loader' is not installed; `pip install espeakng-loader` "
            "(or pass --espeak-lib/--espeak-data for a system libespeak-ng)"
        ) from err
    return Path(espeakng_loader.get_library_path()), Path(espeakng_loader.get_data_path())


def _load_private_copy(lib_path: Path) -> ctypes.CDLL:
    """dlopen a private copy of ``lib_path``.

    eSpeak keeps synthesis state in statics (pitch flutter phase, noise, ...) that
    espeak_Terminate does not reset, so an utterance's samples depend on everything said
    before it in the process.  A fresh copy (a different file, so the loader maps it
    anew) starts from zero state, which makes a build reproducible however many builds
    ran before it in the same process.
    """
    if not lib_path.is_file():
        raise EspeakUnavailable(f"libespeak-ng not found at {lib_path}")
    tmp = Path(tempfile.mkdtemp(prefix="seqkit-espeak-"))
    try:
        copy = tmp / lib_path.name
        shutil.copyfile(lib_path, copy)
        return ctypes.CDLL(str(copy))  # RTLD_LOCAL: its symbols bind to this copy only
    except OSError as err:
        raise EspeakUnavailable(f"cannot load libespeak-ng from {lib_path}: {err}") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the mapping outlives the file


class EspeakSynth:
    """One fresh eSpeak NG instance in synchronous (retrieval) mode."""

    def __init__(self, lib_path: Path | None = None, data_dir: Path | None = None) -> None:
        if lib_path is None or data_dir is None:
            default_lib, default_data = default_espeak_paths()
            lib_path, data_dir = lib_path or default_lib, data_dir or default_data
        self.lib_path, self.data_dir = Path(lib_path), Path(data_dir)
        if self.data_dir.name != "espeak-ng-data" or not (self.data_dir / "phontab").is_file():
            # eSpeak is given the parent folder and looks for "espeak-ng-data/phontab" in it
            raise EspeakUnavailable(f"{self.data_dir} is not an espeak-ng-data folder (named so, holding phontab)")
        lib = _load_private_copy(self.lib_path)
        try:
            self._bind(lib)
        except AttributeError as err:  # a symbol missing: not libespeak-ng, or one too old
            raise EspeakUnavailable(f"{self.lib_path} lacks the eSpeak NG API: {err}") from err
        # espeak_Initialize wants the folder that *contains* espeak-ng-data.
        rate = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_dir.parent).encode(), ESPEAK_INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise EspeakUnavailable(f"espeak_Initialize failed ({rate}) with data {self.data_dir}")
        self.native_rate = int(rate)
        self._chunks: list[bytes] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # keep a reference: C holds only the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self._lib = lib
        self._libc = _libc()
        info = lib.espeak_Info(None)
        self.version = info.decode() if info else "unknown"

    @staticmethod
    def _bind(lib: ctypes.CDLL) -> None:
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_GetCurrentVoice.argtypes = []
        lib.espeak_GetCurrentVoice.restype = ctypes.POINTER(_EspeakVoice)
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Terminate.argtypes = []
        lib.espeak_Terminate.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = ctypes.c_int

    def _collect(self, wav: ctypes.POINTER(ctypes.c_short), count: int, _events: int) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0  # 0 = continue synthesis

    def set_voice(self, speaker: str) -> str:
        """Select ``accent[+variant]``; return the voice file eSpeak actually loaded."""
        status = self._lib.espeak_SetVoiceByName(speaker.encode())
        if status != EE_OK:
            raise ValueError(f"eSpeak has no voice {speaker!r} (status {status})")
        current = self._lib.espeak_GetCurrentVoice()
        return current.contents.identifier.decode() if current and current.contents.identifier else ""

    def synth(self, speaker: str, text: str, rate: int, pitch: int, pitch_range: int, seed: int) -> np.ndarray:
        """int16 samples at :attr:`native_rate` for ``text`` in voice ``speaker``."""
        self.set_voice(speaker)
        # parameters persist between calls, so every utterance sets all three
        for param, value in ((ESPEAK_RATE, rate), (ESPEAK_PITCH, pitch), (ESPEAK_RANGE, pitch_range)):
            self._lib.espeak_SetParameter(param, int(value), 0)
        # breath/aspiration noise draws on eSpeak's generator and libc rand(): seed both
        self._lib.espeak_ng_SetRandSeed(seed)
        if self._libc is not None:
            self._libc.srand(ctypes.c_uint(seed))
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        status = self._lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
        if status != EE_OK:
            raise RuntimeError(f"espeak_Synth failed ({status}) for {speaker!r}: {text!r}")
        return np.frombuffer(b"".join(self._chunks), dtype=np.int16)

    def close(self) -> None:
        if self._lib is not None:
            self._lib.espeak_Terminate()
            self._lib = None


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
        libc.srand.argtypes = [ctypes.c_uint]
        return libc
    except (OSError, AttributeError):
        return None
