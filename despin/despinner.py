"""`Despinner`: load a restorer, restore whole documents, save it again.

A Despinner folder holds ``despin.json`` (synonym sources, search settings, scorers and, when
fitted, the edit-score calibration and *profiles* for other kinds of input), the synonym tables
it was built with, the spun-ness counts (``spunness.tsv``, optional) and the fine-tuned
restoration model (if any) under ``model/``.
``Despinner.from_pretrained()`` with no argument loads the shipped default.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, overload

import numpy as np
from tqdm.auto import tqdm

from .articles import article_edits
from .calibration import Calibration
from .candidates import CandidateIndex
from .detection import DETECTION_FILE, Detection, DetectionModel, sentence_rows
from .detector import SpunDetector, word_features, word_token_ends
from .dtypes import check_device, check_dtype, resolve_dtype
from .edits import Edit, Restoration, apply_edits
from .language import is_foreign
from .lattice import Slot, build_slots
from .model_input import build_model_input
from .resources import resolve
from .search import (EditScore, LinearScore, Move, SearchSettings, Term, joint_search, move_edits,
                     prior_bias, search)
from .spelling import spell_edits
from .spunness import SpunnessTable
from .synonyms import DEFAULT_FREQ_POWER, load_sources
from .text import (Composed, LineReader, composed, match_case, protected_spans, sentence_spans,
                   tokenize, uncased)
from .truecase import TRUECASE_FILE, CaseTable, truecase_edits, wordnet_proper_forms
from .workers import Batch

__all__ = ["Despinner", "ScorerSpec", "DEFAULT_PATH", "SEARCH_PATH"]

DEFAULT_PATH = Path(__file__).resolve().parent / "default"
SEARCH_PATH = DEFAULT_PATH / "accurate"
"""The shipped search core (Gemma-3-270m lattice search): the accurate profile's searcher."""
CONFIG_NAME = "despin.json"


@dataclass
class ScorerSpec:
    """One scorer of the search: a model (folder, hub name or packaged name such as
    "gemma3-270m") and its weight in the linear gain (a calibration's network, when there is
    one, weighs the scorer itself and ignores ``weight`` and ``gap_weight``).

    ``uses_source``: the model reads the candidate-augmented input (a fine-tuned restoration
    model); False for a plain language model that scores the sentence alone. ``gap_weight``:
    of the candidate's shortfall behind the model's favourite in its slot (see
    :mod:`despin.search`). ``dtype``: the model's weights, one of :data:`despin.dtypes.DTYPES`
    (``"bfloat16"`` halves Gemma-3-270m's scoring time on CPUs with bf16 instructions but is
    ~6x slower than float32 where torch emulates it; ``"auto"`` takes it only where the device
    computes it natively); None: float32 on the CPU, bfloat16 on a GPU.
    """

    model: str
    weight: float = 1.0
    uses_source: bool = True
    gap_weight: float = 0.0
    dtype: str | None = None

    def __post_init__(self) -> None:
        check_dtype(self.dtype)


@dataclass
class _Loaded:
    spec: ScorerSpec
    model: Any  # despin.scorer.RestorationModel


class Despinner:
    """Restore spun text: ``Despinner.from_pretrained().restore(text)``."""

    def __init__(self, sources: list[dict[str, Any]], scorers: list[ScorerSpec] | None = None,
                 settings: SearchSettings | None = None, freq_power: float = DEFAULT_FREQ_POWER,
                 device: str = "auto", batch_size: int = 32, base_dir: Path | None = None,
                 progress: bool = False, index: CandidateIndex | None = None,
                 models: list[Any] | None = None, spunness: SpunnessTable | None = None,
                 calibration: Calibration | None = None, detector: SpunDetector | None = None,
                 profiles: dict[str, dict] | None = None, dtype: str | None = None,
                 fast: dict[str, Any] | None = None, truecase: CaseTable | None = None):
        """``index`` and ``models`` (RestorationModels, one per scorer) may be given already
        loaded — e.g. the model being trained — instead of being loaded on first use.
        ``calibration``: the fitted edit score (:mod:`despin.calibration`); without it the
        gain's constant part is ``prior_weight · log prior + spun_weight · spun-ness``.
        ``detector``: the spun-word detector (:mod:`despin.detector`) whose log-odds the
        calibration reads; a folder's ``detector.npz`` is loaded when none is given.
        ``profiles``: name → the scorer weights, calibration and search settings that
        :meth:`profile` puts in place of these for another kind of input.
        ``dtype``: one of :data:`despin.dtypes.DTYPES` that every scorer loads in instead of its
        own (the scorers' own settings are what :meth:`save_pretrained` writes).
        ``fast``: the ``fast`` section of a ``despin.json`` (settings, encoder folder, n-gram
        model): restore with the fast core (:mod:`despin.fast`) instead of the search.
        ``truecase``: the case table that spells restored names (:mod:`despin.truecase`); a
        folder's ``truecase.tsv.gz`` is loaded when none is given."""
        self.sources_spec = [dict(s) for s in sources]
        self.scorer_specs = list(scorers or [])
        self.settings = settings or SearchSettings()
        self.freq_power = freq_power
        self.device = check_device(device)
        self.batch_size = batch_size
        self.base_dir = base_dir
        self.progress = progress
        self.dtype = check_dtype(dtype)
        self.spunness = spunness
        self.calibration = calibration
        if spunness is None and base_dir is not None and (base_dir / SpunnessTable.FILE).exists():
            self.spunness = SpunnessTable.load(base_dir / SpunnessTable.FILE)
        self.detector = detector
        if detector is None and base_dir is not None and (base_dir / SpunDetector.FILE).exists():
            self.detector = SpunDetector.load(base_dir / SpunDetector.FILE)
        self.profiles: dict[str, dict] = dict(profiles or {})
        # the scorers' output layers in int8 when they run on a CPU in float32
        # (RestorationModel.quantize_output_layer; set by a searcher profile's "int8_output")
        self.int8_output = False
        self._searchers: dict[tuple[str, bool], Despinner] = {}  # searcher profiles' searchers
        # spin detection (despin.detection): fitted weights, read from the folder when present
        self.detection: DetectionModel | None = None
        if base_dir is not None and (base_dir / DETECTION_FILE).exists():
            self.detection = DetectionModel.load(base_dir / DETECTION_FILE)
        # capitals for restored names (despin.truecase), read from the folder when present
        self.truecase: CaseTable | None = truecase
        if truecase is None and base_dir is not None and (base_dir / TRUECASE_FILE).exists():
            self.truecase = CaseTable.load(base_dir / TRUECASE_FILE,
                                           proper=wordnet_proper_forms())
        # the fast core (despin.fast): its section of despin.json; loaded on first use
        self.fast_spec: dict[str, Any] | None = dict(fast) if fast else None
        if self.fast_spec is not None:
            from .fast import FastSettings

            gated = FastSettings(**self.fast_spec.get("settings", {})).gate_cut is not None
            if gated and self.detection is None:
                raise ValueError("this model's fast settings have a spin gate (gate_cut) but "
                                 "it has no detection.json: fit one with python -m "
                                 "training.fit_detect, or load it with gate_cut=None")
        self._fast = None
        self._engine = None
        self._derived: dict[str, Despinner] = {}
        # how from_pretrained loaded it (its arguments; with a profile, "profile" and
        # "margin"), so that worker processes can load the same model (despin.workers)
        self.recipe: dict[str, Any] | None = None
        self._index: CandidateIndex | None = index
        self._scorers: list[_Loaded] | None = None
        if models is not None:
            if len(models) != len(self.scorer_specs):
                raise ValueError(f"{len(models)} models for {len(self.scorer_specs)} scorers")
            self._scorers = [_Loaded(s, m) for s, m in zip(self.scorer_specs, models)]

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path_or_name: str | Path | None = None, device: str = "auto",
                        batch_size: int | None = None, dtype: str | None = None,
                        ngram: str | Path | None = None, truecase: str | Path | None = None,
                        **overrides: Any) -> "Despinner":
        """Load from a folder, a hub repository name, or (None) the shipped default.

        ``device``: "cpu", "cuda" (or "cuda:N") or "auto" (CUDA when torch sees a GPU).
        ``batch_size``: sentences per encoder batch on the fast core (its settings'
        ``batch_size``, 8 as shipped), hypotheses per scoring batch on the search core (32);
        None: those defaults. ``dtype`` (``"auto"``, ``"float32"``, ``"bfloat16"``): the search
        scorers' weights (the accurate profile's searcher; the fast core's encoder always runs
        in float32), in place of each scorer's own ``dtype``; ``"auto"`` is bfloat16 only where
        ``device`` computes it natively (:func:`despin.dtypes.auto_dtype`). None: the model's
        own settings. ``ngram``: a trigram model (ARPA) of prose of your text's own domain,
        e.g. from ``python -m training.ngram --text``; it takes the place of the folder's prose
        model in the fast core's n-gram mixture, at its weight (0.5 where the folder has none;
        :func:`despin.ngram.with_prose`). None: the folder's own. ``truecase``: a case table of
        such prose (``python -m training.truecase --text``, :class:`despin.truecase.CaseTable`)
        in place of the folder's ``truecase.tsv.gz``, which spells restored names with their
        capitals; None: the folder's own (a folder without one leaves restored words in the
        spun words' case). ``overrides`` replace the folder's settings: on the fast core those
        of :class:`despin.fast.FastSettings` (e.g. ``threshold=1.5``, ``top_k=50``;
        ``copy_bonus`` is its ``threshold``; ``gate_cut=None`` turns the spin gate off), else
        those of :class:`despin.search.SearchSettings` (e.g. ``copy_bonus=3.0``). A path may
        start with ``~``.

        Raises FileNotFoundError for a missing folder (OSError for a hub name the hub does not
        give: offline, no such repository), ValueError for a ``despin.json`` that is not a
        Despinner's (bad JSON, an unknown source kind, a fast section without an encoder or
        with a bad setting, a bad scorer, search setting or calibration: the message names
        the file), for a device this torch cannot use, a
        bad dtype or a ``batch_size`` below 1, or for a fast core with a spin gate
        (``gate_cut``) but no ``detection.json``, or for ``ngram`` or ``gate_cut`` with a
        search-core model (it has neither), FileNotFoundError for an ``ngram``
        file that is missing (an unreadable one raises ValueError when the fast core first
        loads, at the first restore), FileNotFoundError or ValueError for a ``truecase`` file
        that is missing or not a case table, TypeError for an
        override no settings class has (the message lists them) and TypeError/ValueError for
        a fast-core setting of the wrong type or value (:class:`despin.fast.FastSettings`:
        ``threshold=float("nan")``, a ``max_length`` beyond the encoder's positions), and
        TypeError for ``copy_bonus`` and ``threshold`` together on the fast core (one setting).
        """
        check_dtype(dtype)
        check_device(device)
        recipe = {"device": device, "batch_size": batch_size, "dtype": dtype,
                  "ngram": None if ngram is None else str(ngram),
                  "truecase": None if truecase is None else str(Path(truecase).resolve()),
                  **overrides}
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be an integer ≥ 1 or None, got {batch_size!r}")
        if truecase is not None and Path(truecase).expanduser().is_dir():
            raise ValueError(f"truecase must be a case table file (python -m training.truecase),"
                             f" not the folder {truecase}")
        folder = DEFAULT_PATH if path_or_name is None else Path(path_or_name).expanduser()
        if not folder.is_dir():
            if path_or_name is not None and not str(path_or_name).startswith((".", "/", "~")) \
                    and str(path_or_name).count("/") == 1:
                from huggingface_hub import snapshot_download  # users with a hub

                try:
                    folder = Path(snapshot_download(str(path_or_name)))
                except Exception as exc:  # offline, no such repository, no access
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise OSError(f"no Despinner folder at {path_or_name}, and the hub did not "
                                  f"give one ({type(exc).__name__}: {first})") from exc
            else:
                raise FileNotFoundError(f"no Despinner folder at {folder}")
        cfg_path = folder / CONFIG_NAME
        if not cfg_path.exists():
            raise FileNotFoundError(f"{folder} has no {CONFIG_NAME}: not a Despinner folder")
        cfg = _read_config(cfg_path)
        fast = cfg.get("fast")
        if fast is not None:  # overrides of the fast core's settings go there
            from .fast import FastSettings

            if "copy_bonus" in overrides:  # the fast core's name for how much evidence it needs
                if "threshold" in overrides:
                    raise TypeError("copy_bonus and threshold are one setting of the fast "
                                    "core (its threshold): give one of them")
                overrides["threshold"] = overrides.pop("copy_bonus")
            if batch_size is not None:
                overrides.setdefault("batch_size", batch_size)
            mine = {k: overrides.pop(k) for k in list(overrides)
                    if k in FastSettings.__dataclass_fields__}
            fast = {**fast, "settings": {**fast.get("settings", {}), **mine}}
            if overrides:
                raise TypeError(f"unknown setting(s) {sorted(overrides)} for this fast-core "
                                f"model; FastSettings has {sorted(FastSettings.__dataclass_fields__)}")
            if ngram is not None:
                from .ngram import with_prose

                fast["ngram"] = with_prose(fast.get("ngram"), ngram)
        elif ngram is not None or "gate_cut" in overrides:
            what = "an n-gram model (ngram=, --ngram)" if ngram is not None else \
                "gate_cut (--no-gate)"
            raise ValueError(f"{what} needs a fast-core model; {folder} is a search-core one")
        unknown = set(overrides) - set(SearchSettings.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown setting(s) {sorted(unknown)}; SearchSettings has "
                            f"{sorted(SearchSettings.__dataclass_fields__)}")
        settings = SearchSettings(**{**cfg.get("search", {}), **overrides})
        calibration = Calibration.from_dict(cfg["calibration"]) if cfg.get("calibration") else None
        model = cls(cfg["sources"], [ScorerSpec(**s) for s in cfg.get("scorers", [])], settings,
                    cfg.get("freq_power", DEFAULT_FREQ_POWER), device,
                    32 if batch_size is None else batch_size, base_dir=folder,
                    calibration=calibration, profiles=cfg.get("profiles"), dtype=dtype,
                    fast=fast, truecase=None if truecase is None else
                    CaseTable.load(truecase, proper=wordnet_proper_forms()))
        if fast is not None and "max_length" in recipe:
            model.fast  # noqa: B018 -- loads the encoder, which checks max_length's upper bound
        # workers load the folder itself: a hub name's downloaded one, a path made absolute
        model.recipe = {**recipe, "path_or_name": str(folder.resolve())}
        return model

    @classmethod
    def fast_from_parts(cls, sources: list[dict[str, Any]], encoder: str | Path,
                        settings: Any = None, freq_power: float | None = None,
                        ngram: None | str | list[dict[str, Any]] = None) -> "Despinner":
        """A Despinner on the fast core (:mod:`despin.fast`) from its parts: the synonym
        ``sources`` of the candidate index, a trained spin encoder folder,
        :class:`despin.fast.FastSettings` (None: defaults) and the n-gram model
        (:func:`despin.ngram.load_lm`'s spec; None: pocketsphinx's English model)."""
        from .fast import FastSettings

        settings = settings if settings is not None else FastSettings()
        if isinstance(ngram, (str, Path)):
            ngram = str(Path(ngram).resolve())
        elif ngram is not None:
            ngram = [{**c, "path": None if c["path"] is None else str(Path(c["path"]).resolve())}
                     for c in ngram]
        spec = {"settings": settings.to_dict() if hasattr(settings, "to_dict") else dict(settings),
                "encoder": str(Path(encoder).resolve()), "ngram": ngram}
        return cls(sources, [], freq_power=freq_power if freq_power is not None
                   else DEFAULT_FREQ_POWER, fast=spec)

    @property
    def fast(self):
        """The fast restorer (:class:`despin.fast.FastRestorer`), loaded on first use; None
        for a Despinner on the search core."""
        if self._fast is None and self.fast_spec is not None:
            from .fast import FastRestorer

            encoder = self._path(self.fast_spec["encoder"])
            if not Path(encoder).is_dir():
                where = self.base_dir / encoder if self.base_dir is not None else encoder
                raise FileNotFoundError(f"the fast core's encoder folder {where} is missing")
            fast = FastRestorer.load(self.index, encoder,
                                     self.fast_spec.get("settings"),
                                     self.fast_spec.get("ngram"), self.device,
                                     resolve=self._own_file)
            fast.detection = self.detection
            self._fast = fast
        return self._fast

    def _own_file(self, name: str) -> str:
        """A file the folder's ``despin.json`` names: in the folder (an absolute path as it is;
        never a same-named file elsewhere)."""
        if self.base_dir is None or Path(name).is_absolute():
            return name
        return str(self.base_dir / name)

    def _path(self, name: str) -> str:
        """A source table or model path: the Despinner folder first, then configs/."""
        if self.base_dir is not None and (self.base_dir / name).exists():
            return str(self.base_dir / name)
        return str(resolve(name)) if resolve(name).exists() else name

    @property
    def index(self) -> CandidateIndex:
        """The candidate index (built on first use)."""
        if self._index is None:
            specs = [{**s, "path": self._path(s["path"])} if "path" in s else s
                     for s in self.sources_spec]
            self._index = CandidateIndex(load_sources(specs), self.freq_power)
        return self._index

    @property
    def scorers(self) -> list[_Loaded]:
        """The scoring models (loaded on first use)."""
        if self._scorers is None:
            from .scorer import RestorationModel

            self._scorers = [_Loaded(s, RestorationModel.from_pretrained(
                self._path(s.model), device=self.device, dtype=self.scorer_dtype(s)))
                for s in self.scorer_specs]
            if self.int8_output:
                for loaded in self._scorers:
                    loaded.model.quantize_output_layer()
        return self._scorers

    def scorer_dtype(self, spec: ScorerSpec) -> str | None:
        """The dtype ``spec``'s model loads in here: this restorer's ``dtype`` or else the
        scorer's own, ``"auto"`` resolved for this device (None: the loader's default)."""
        return resolve_dtype(self.dtype or spec.dtype, self.device)

    @property
    def language_model(self) -> _Loaded | None:
        """The first plain language model among the scorers (the prefilter's and the
        detector's), or None."""
        return next((s for s in self.scorers if not s.spec.uses_source), None)

    # -- profiles --------------------------------------------------------------------------
    def derive(self, specs: list[ScorerSpec] | None = None, settings: SearchSettings | None = None,
               calibration: Calibration | None = None) -> "Despinner":
        """A restorer with other scorer weights, search settings or calibration that shares this
        one's candidate index, models, tables and detector (loaded now if they were not)."""
        specs = [replace(s) for s in (specs or self.scorer_specs)]
        if [s.model for s in specs] != [s.model for s in self.scorer_specs]:
            raise ValueError("a derived Despinner must keep the same scorer models")
        derived = Despinner(self.sources_spec, specs, replace(settings or self.settings),
                            self.freq_power, self.device, self.batch_size, self.base_dir,
                            self.progress, self.index, [s.model for s in self.scorers],
                            self.spunness, calibration or self.calibration, self.detector,
                            dtype=self.dtype, truecase=self.truecase)
        derived.truecase = self.truecase  # also None where this one has none
        return derived

    def profile(self, name: str | None, margin: float | None = None) -> "Despinner":
        """This restorer as fitted for another kind of input (None: itself).

        E.g. a ``"phrase"`` profile, fitted on bare spun terms (:mod:`training.phrases`), would
        restore *bare phrases* — terms with no sentence around them, such as the tortured
        phrases of paper mills — whose words have no context and are mostly spun. A profile
        replaces the scorer weights, the calibration and any search settings it names; it is
        built once and shares the models.

        A profile that names a ``searcher`` (a search-core Despinner folder inside this one)
        pairs this Despinner's fast core with it (:class:`despin.accurate.AccurateRestorer`):
        the shipped default's ``"accurate"`` profile asks Gemma-3-270m about the slots where
        the fast decoder is unsure (with ``"int8_output": true``, as shipped, the searcher's
        output layer runs in int8 on a CPU in float32:
        :meth:`despin.scorer.RestorationModel.quantize_output_layer`): where its decision wins
        by less than the profile's
        ``margin`` (nats of the fast objective; 2.0 in the shipped default). ``margin``
        overrides it: smaller is faster and less accurate (0: the fast core's output; the
        README's accurate-profile table gives words/s and F0.5 at 1.0, 1.5 and 2.0 on the 100
        test pairs, ``benchmarks/speed.py`` rows ``accurate-fp32@M``).

        Raises KeyError for a profile this Despinner lacks, TypeError for a ``margin`` that is
        not a number, ValueError for one that is negative or given to a profile without a
        searcher.
        """
        if name is None:
            if margin is not None:
                raise ValueError("margin applies to a searcher profile such as 'accurate'")
            return self
        derived = self._profile(name, margin)
        if self.recipe is not None:  # worker processes load it the same way
            derived.recipe = {**self.recipe, "profile": name, "margin": margin}
        return derived

    def _profile(self, name: str, margin: float | None) -> "Despinner":
        """:meth:`profile` of a name (built once, kept in ``_derived``)."""
        if name not in self.profiles:
            raise KeyError(f"no {name!r} profile: this Despinner has "
                           f"{sorted(self.profiles) or 'none'}")
        if "searcher" in self.profiles[name]:
            p, key = self.profiles[name], name
            if margin is not None:
                if isinstance(margin, bool) or not isinstance(margin, (int, float)):
                    raise TypeError(f"margin must be a number of nats, not "
                                    f"{type(margin).__name__} {margin!r}")
                if not margin >= 0:
                    raise ValueError(f"margin must be ≥ 0 nats, got {margin!r}")
                p, key = {**p, "margin": float(margin)}, f"{name}@margin={float(margin)!r}"
            if key not in self._derived:
                self._derived[key] = self._accurate(p)
            return self._derived[key]
        if margin is not None:
            raise ValueError(f"profile {name!r} has no searcher: margin does not apply")
        if name not in self._derived:
            p = self.profiles[name]
            weights = p.get("scorers") or [{} for _ in self.scorer_specs]
            if len(weights) != len(self.scorer_specs):
                raise ValueError(f"profile {name!r} weighs {len(weights)} scorers, this "
                                 f"Despinner has {len(self.scorer_specs)}")
            specs = [replace(s, **w) for s, w in zip(self.scorer_specs, weights)]
            settings = replace(self.settings, **p.get("search", {}))
            cal = Calibration.from_dict(p["calibration"]) if p.get("calibration") else None
            self._derived[name] = self.derive(specs, settings, cal)
        return self._derived[name]

    def _accurate(self, p: dict[str, Any]) -> "Despinner":
        """A copy of this fast-core Despinner whose sentences go through an AccurateRestorer
        with the searcher of profile ``p``."""
        import copy

        from .accurate import AccurateRestorer

        if self.fast_spec is None or self.base_dir is None:
            raise ValueError("a searcher profile needs a fast-core Despinner loaded from a folder")
        key = (p["searcher"], bool(p.get("int8_output", False)))
        searcher = self._searchers.get(key)  # one per folder: every margin shares its models
        if searcher is None:
            searcher = Despinner.from_pretrained(self.base_dir / p["searcher"], self.device,
                                                 self.batch_size, dtype=self.dtype)
            searcher._index = self.index  # the same sources: one index
            searcher.int8_output = key[1]
            self._searchers[key] = searcher
        fast = self.fast  # loaded before the copy, so that the twin shares it (its settings)
        twin = copy.copy(self)
        twin._derived, twin.profiles = {}, {}
        twin._engine = AccurateRestorer(fast, searcher, float(p.get("margin", 2.0)),
                                        p.get("candidates"))
        return twin

    @property
    def engine(self):
        """What restores batches of sentences on the fast core: the fast restorer, or a
        profile's :class:`despin.accurate.AccurateRestorer`; None on the search core."""
        return self._engine or self.fast

    def set_profile(self, name: str, fitted: "Despinner") -> None:
        """Record ``fitted`` (e.g. from :meth:`derive`, then calibrated or tuned) as profile
        ``name``: whichever of its scorer weights, calibration and search settings differ from
        this restorer's."""
        def weights(d: Despinner) -> list[dict]:
            return [{"weight": s.weight, "gap_weight": s.gap_weight} for s in d.scorer_specs]

        def cal(d: Despinner) -> dict | None:
            return d.calibration.to_dict() if d.calibration else None

        base = self.settings.to_dict()
        entry: dict[str, Any] = {}
        if weights(fitted) != weights(self):
            entry["scorers"] = weights(fitted)
        if cal(fitted) != cal(self):
            entry["calibration"] = cal(fitted)
        entry["search"] = {k: v for k, v in fitted.settings.to_dict().items() if base.get(k) != v}
        self.profiles[name] = entry
        self._derived.pop(name, None)

    # -- restoring -------------------------------------------------------------------------
    def terms(self, sentence: str, slots: list[Slot], raw: bool = False) -> list[Term]:
        """One search term per scorer: whole-sentence for models that read the candidate-
        augmented input, a window of ``settings.window`` tokens each side for plain LMs.
        ``raw``: weight 1 and no gap weight (to fit a calibration on)."""
        tokens = tokenize(sentence)
        w = self.settings.window
        terms = []
        for s in self.scorers:
            weights = (1.0, 0.0) if raw else (s.spec.weight, s.spec.gap_weight)
            if s.spec.uses_source:
                terms.append(Term(self._sentence_delta(s, sentence), None, *weights))
            else:
                terms.append(Term(self._window_delta(s, sentence, tokens, w), w, *weights))
        return terms

    def _sentence_delta(self, s: _Loaded, sentence: str):
        # The input as the model was trained on it: every slot with the index's best candidates
        # by prior (its own top_k and n_show, when it recorded them), not the slots the language
        # model's prefilter kept and reordered for the search.
        cfg = s.model.despin_config
        source = build_model_input(sentence, self.index, cfg.get("top_k", self.settings.top_k),
                                   cfg.get("n_show", self.settings.n_show))

        def delta(current: list[Edit], proposals: list[Move]) -> list[float]:
            hyps = [apply_edits(sentence, current + move_edits(p)) for p in proposals]
            return s.model.score_deltas(source, apply_edits(sentence, current), hyps,
                                        batch_size=self.batch_size)
        return delta

    def _window_delta(self, s: _Loaded, sentence: str, tokens: list, w: int):
        starts = [t.start for t in tokens]
        ends = [t.end for t in tokens]

        def window(edits: list[Edit]) -> tuple[int, int]:
            a = next(k for k, t in enumerate(tokens) if t.start == edits[0].start)
            b = next(k for k, t in enumerate(tokens) if t.end == edits[-1].end) + 1
            return starts[max(0, a - w)], ends[min(len(tokens), b + w) - 1]

        def cut(lo: int, hi: int, edits: list[Edit]) -> str:
            inside = [x.shifted(-lo) for x in edits if lo <= x.start and x.end <= hi]
            return apply_edits(sentence[lo:hi], inside)

        def delta(current: list[Edit], proposals: list[Move]) -> list[float]:
            pairs = []
            for p in proposals:
                edits = sorted(move_edits(p), key=lambda e: e.start)
                lo, hi = window(edits)
                old, new = cut(lo, hi, current), cut(lo, hi, current + edits)
                # The words before the first difference are the same in both: read, not scored.
                same = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b),
                            min(len(old), len(new)))
                k = old.rfind(" ", 0, same + 1)
                ctx = old[:k] if k > 0 else None
                pairs.append(((ctx, old[max(k, 0):]), (ctx, new[max(k, 0):])))
            texts = list(dict.fromkeys(t for pair in pairs for t in pair))  # shared bases once
            scores = dict(zip(texts, s.model.score([None] * len(texts), [t for _, t in texts],
                                                   batch_size=self.batch_size, eos=False,
                                                   contexts=[c for c, _ in texts])))
            return [scores[new] - scores[old] for old, new in pairs]
        return delta

    def lattice(self, sentence: str) -> list[Slot]:
        """The slots the search may change in ``sentence``, with their candidates (the index's
        best ``top_k``, cut to ``prefilter`` by one language-model pass when there is one) and,
        with a :attr:`detector`, each slot's log-odds of being spinner output (same pass)."""
        slots = build_slots(sentence, self.index, top_k=self.settings.top_k)
        lm = self.language_model
        if not slots or lm is None or not (self.settings.prefilter or self.detector is not None):
            return slots
        if self.detector is not None and self.detector.model != lm.spec.model:
            raise ValueError(f"the detector reads {self.detector.model}'s hidden states, but the "
                             f"language model here is {lm.spec.model}: refit it "
                             "(python -m training.detector)")
        offsets, logp, hidden = self.lm_pass(
            sentence, lm, self.detector.layer if self.detector is not None else None)
        if self.detector is not None:
            slots = self._detect(sentence, slots, offsets, hidden)
        if self.settings.prefilter:
            slots = self._prefilter(sentence, slots, lm, offsets, logp)
        return slots

    def _detect(self, sentence: str, slots: list[Slot], offsets: list[tuple[int, int]],
                hidden) -> list[Slot]:
        """``slots`` with ``detector`` set: the mean of their words' detector log-odds."""
        spans = word_token_ends(offsets, tokenize(sentence))
        words = [k for k, sp in enumerate(spans) if sp is not None]
        if not words:
            return slots
        odds = dict(zip(words, self.detector.log_odds(
            np.stack([word_features(hidden, spans[k]) for k in words])).tolist()))
        out = []
        for slot in slots:
            vals = [odds[k] for k in range(slot.tok_start, slot.tok_end) if k in odds]
            out.append(replace(slot, detector=sum(vals) / len(vals)) if vals else slot)
        return out

    def lm_pass(self, sentence: str, lm: _Loaded, layer: int | None = None,
                logits: bool = True):
        """One forward pass of the plain language model ``lm`` over ``sentence`` (after BOS):
        the tokens' character offsets, the next-token log-probabilities at every position (None
        with ``logits=False``, which skips the output layer) and the hidden states of ``layer``
        (``[1 + tokens, width]``; None without a layer)."""
        import torch

        tok, model = lm.model.tokenizer, lm.model.model
        enc = tok(sentence, return_offsets_mapping=True, add_special_tokens=False)
        head = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        with torch.inference_mode():
            ids = torch.tensor([[head] + enc["input_ids"]], device=lm.model.device)
            net = model if logits else model.base_model
            out = net(input_ids=ids, output_hidden_states=layer is not None)
            logp = torch.log_softmax(out.logits[0].float(), -1) if logits else None
            hidden = (out.hidden_states[layer][0].float().cpu().numpy()
                      if layer is not None else None)
        return enc["offset_mapping"], logp, hidden

    def edit_score(self, terms: list[Term]) -> EditScore:
        """How the search turns the terms' deltas into gains: the calibration's network when it
        has one, else the linear gain with the terms' weights and :meth:`bias`."""
        net = self.calibration.edit_score(len(terms), self.spunness) \
            if self.calibration is not None else None
        return net or LinearScore(terms, self.bias())

    def bias(self) -> Callable[[Slot, int], float]:
        """The constant part of each candidate's linear gain (see :func:`despin.search.search`)."""
        if self.calibration is not None:
            return self.calibration.bias(self.spunness)
        prior = prior_bias(self.settings)
        if self.spunness is None or not self.settings.spun_weight:
            return prior
        w, table = self.settings.spun_weight, self.spunness
        return lambda slot, j: prior(slot, j) + w * table.log_odds(slot.text)

    def restore_sentence(self, sentence: str) -> list[Edit]:
        """Edits for one sentence (sentence offsets), in the order the search took them."""
        if self.fast_spec is not None:
            return self.engine.restore_sentences([sentence])[0]
        if not self.scorer_specs:
            return []  # no scorer: nothing can justify an edit
        slots = self.lattice(sentence)
        if not slots:
            return []
        lm = self.language_model if self.settings.joint_top else None
        if lm is not None and len(slots) <= self.settings.joint_slots:
            return joint_search(sentence, slots, lambda texts: lm.model.score(
                [None] * len(texts), texts, batch_size=self.batch_size), self.settings)
        terms = self.terms(sentence, slots)
        return search(slots, terms, self.settings, score=self.edit_score(terms))

    def _prefilter(self, sentence: str, slots: list[Slot], lm: _Loaded,
                   offsets: list[tuple[int, int]], logp) -> list[Slot]:
        """Keep, per slot, the ``settings.prefilter`` candidates whose first token the language
        model finds likeliest in context (``logp``, from :meth:`lm_pass`), and only those within
        ``prefilter_margin`` nats of the spun word's own first token.

        Slots with fewer than ``prefilter_context`` tokens before them are not checked — with
        no left context the next-token score is word frequency, which is already in the prior —
        and keep their ``prefilter_cold`` likeliest candidates by prior instead."""
        tok = lm.model.tokenizer
        starts = {a: k for k, (a, _) in enumerate(offsets)}
        kept = []
        for slot in slots:
            if slot.tok_start < self.settings.prefilter_context:
                kept.append(replace(slot, candidates=slot.candidates[:self.settings.prefilter_cold],
                                    cold=True))
                continue
            lead = " " if slot.start and sentence[slot.start - 1] == " " else ""
            k = starts.get(slot.start - len(lead), starts.get(slot.start))
            if k is None:
                continue
            first = lambda text: tok(lead + text, add_special_tokens=False)["input_ids"][0]
            own = logp[k, first(slot.text)].item()
            scored = sorted(((logp[k, first(c.text)].item()
                              + self.settings.prior_weight * c.log_prior, c)
                             for c in slot.candidates), key=lambda x: -x[0])
            keep = [c for v, c in scored[:self.settings.prefilter]
                    if v > own - self.settings.prefilter_margin]
            if keep:
                kept.append(replace(slot, candidates=keep))
        return kept

    @overload
    def restore_with_edits(self, text: str, *, workers: int = 1) -> Restoration: ...
    @overload
    def restore_with_edits(self, text: list[str], *, workers: int = 1) -> list[Restoration]: ...

    def restore_with_edits(self, text: str | Iterable[str], *, workers: int = 1
                           ) -> Restoration | list[Restoration]:
        """Restore a whole document (→ :class:`Restoration`), or several (a list or any
        iterable of str → one Restoration each, in order); the edits carry offsets into each
        document (characters).

        Lines, then sentences, are restored (:meth:`restore_lines`); every character outside
        an edit is returned unchanged. Several documents are restored together, their
        sentences batched across documents (one encoder pass per batch on the fast core), with
        the same result as one by one. ``workers`` > 1: restored in that many processes, with
        the same result (:mod:`despin.workers`: for corpora on many cores). Raises TypeError
        when ``text`` is neither a str nor an iterable of str, ValueError for ``workers`` that
        is not an int ≥ 1, or > 1 for a model that ``from_pretrained`` did not load.
        """
        self._check_workers(workers)
        if isinstance(text, str):
            return self._restore_documents([text], workers)[0]
        return self._restore_documents(_documents(text, "restore_with_edits"), workers)

    def _restore_documents(self, texts: list[str], workers: int = 1) -> list[Restoration]:
        """Each of ``texts`` (checked str) restored, their lines streamed through one
        :meth:`_restore_stream`."""
        lines = [(k, line) for k, t in enumerate(texts) for line in t.splitlines(keepends=True)]
        edits: list[list[Edit]] = [[] for _ in texts]
        offsets = [0] * len(texts)
        total = _utf8_size(texts)
        for (k, _), r in zip(lines, self._restore_stream(iter(lines), total, workers=workers)):
            edits[k] += [e.shifted(offsets[k]) for e in r.edits]
            offsets[k] += len(r.input)
        return [Restoration(t, es) for t, es in zip(texts, edits)]

    @property
    def _sentence_budget(self) -> int:
        """Sentences restored (or read by detection) per engine call: 8 encoder batches on the
        fast core, one sentence on the search core."""
        return 8 * self.fast.settings.batch_size if self.fast_spec is not None else 1

    def restore_lines(self, lines: Iterable[str], total: int | None = None,
                      more_ready: Callable[[], bool] | None = None, *, workers: int = 1
                      ) -> Iterator[Restoration]:
        """Restore a document given line by line; yield one :class:`Restoration` per line, in
        order, as soon as that line is done (edit offsets: characters into the line).

        ``lines``: strings that keep their line breaks, as ``str.splitlines(keepends=True)``
        or an open text file gives them; any iterable, read lazily, so a document of any
        length streams in bounded memory: the fast core restores up to ``8 × batch_size``
        sentences at a time (a batch of lines, or a part of one long line). A sentence never
        crosses a line break (:func:`despin.text.sentence_spans`), so the lines' outputs
        joined equal :meth:`restore` of the joined lines — when the lines are cut where
        ``str.splitlines`` cuts, as :meth:`restore` reads a text; a file read with
        ``newline=""`` cuts only at ``\n`` and ``\r``, so a text with other line
        separators (``\x0c``, ``\u2028``) may differ at them. Lines inside code fences and HTML
        ``<pre>``/``<code>``/``<script>``/``<style>`` blocks pass through unchanged
        (:class:`despin.text.VerbatimBlocks`), and so do quotations that go on over a line
        break (:class:`despin.text.QuoteCarry`). ``total``: the document's size in
        UTF-8 bytes, for the progress bar (shown when :attr:`progress` is set).
        ``more_ready``: for input that arrives over time (a pipe, a terminal), tells whether
        another line can be read without waiting; when it says no, the lines read so far are
        restored and yielded at once instead of waiting to fill a batch.
        ``workers`` > 1: the batches are restored in that many processes, each with its own
        copy of the model, with the same result (:mod:`despin.workers`).
        Raises TypeError for ``lines`` that is a str or yields anything but str, ValueError
        for ``workers`` that is not an int ≥ 1, or > 1 for a model that ``from_pretrained``
        did not load."""
        if isinstance(lines, (str, bytes)) or not isinstance(lines, Iterable):
            raise TypeError("restore_lines() takes an iterable of lines (e.g. "
                            "text.splitlines(keepends=True) or an open file), not "
                            f"{'one ' if isinstance(lines, (str, bytes)) else ''}"
                            f"{type(lines).__name__}")
        self._check_workers(workers)
        yield from self._restore_stream(((0, line) for line in lines), total, more_ready,
                                        workers)

    def _restore_stream(self, lines: Iterator[tuple[int, str]], total: int | None = None,
                        more_ready: Callable[[], bool] | None = None, workers: int = 1
                        ) -> Iterator[Restoration]:
        """:meth:`restore_lines` of ``(document number, line)`` pairs: code fences and
        verbatim blocks are tracked per document (one left open ends with its document).
        ``workers`` > 1 (checked by the callers): the batches are restored in that many
        processes (:func:`despin.workers.restore_batches`), the same batches as in this one."""
        from .workers import restore_batches

        budget = self._sentence_budget
        batches = self._batches(lines, budget, more_ready)
        with tqdm(total=total, desc="restoring", unit="B", unit_scale=True,
                  disable=not self.progress) as bar:
            if workers == 1:
                for pending, _ in batches:
                    yield from self._restore_batch(pending, budget, bar)
                return
            for pending, restored in restore_batches(self, batches, budget, workers):
                bar.update(_utf8_size(line for line, _, _ in pending))
                yield from restored

    def _check_workers(self, workers: Any) -> None:
        """ValueError unless ``workers`` is an int ≥ 1, and 1 for a model without a recipe."""
        from .workers import check_workers

        if check_workers(workers) > 1 and self.recipe is None:
            raise ValueError("workers load the model again, as from_pretrained loaded it; this "
                             "one was not loaded by from_pretrained: save it (save_pretrained) "
                             "and load that folder")

    @staticmethod
    def _batches(lines: Iterator[tuple[int, str]], budget: int,
                 more_ready: Callable[[], bool] | None
                 ) -> Iterator[tuple[Batch, bool]]:
        """The lines as the engine restores them: batches of ``(line, its sentence spans, its
        quoted parts)`` of about ``budget`` sentences (a verbatim line has none; quoted parts:
        of quotations that go on over a line break, :class:`despin.text.QuoteCarry`), each
        with whether the input had to wait (``more_ready`` said no: restore it now rather than
        fill a batch)."""
        pending: Batch = []
        count = 0
        # code fences, <pre>/<script>/… pass through; quotations over line breaks are kept
        reader, doc = LineReader(), None
        for k, line in lines:
            _check_text(line, "restore_lines")
            if k != doc:
                reader, doc = LineReader(), k
            quoted = reader.quoted(line)
            if quoted is None:
                spans, quoted = [], []
            else:
                spans = [(a, b) for a, b in sentence_spans(line)
                         if not any(q <= a and b <= r for q, r in quoted)
                         and not is_foreign(line[a:b])]  # English models: English only
            pending.append((line, spans, quoted))
            count += len(spans)
            waits = count < budget and more_ready is not None and not more_ready()
            if count >= budget or waits:
                yield pending, waits
                pending, count = [], 0
        if pending:
            yield pending, True

    def _restore_batch(self, pending: Batch, budget: int, bar=None) -> Iterator[Restoration]:
        """Restore the sentences of ``pending`` lines, at most ``budget`` sentences per engine
        call; yield each line's Restoration. A call holds whole lines (a line of more than
        ``budget`` sentences goes in calls of its own), so that the spin gate reads each line
        whole, whatever lines come before it. ``bar``: a tqdm bar to advance by the bytes
        done, or None."""
        sentences = [(i, a, line[a:b]) for i, (line, spans, _) in enumerate(pending)
                     for a, b in spans]
        edits: list[list[Edit]] = [[] for _ in pending]
        done = 0
        for part in _line_parts(sentences, budget):
            readings = [_reading(t) for _, _, t in part]
            views = [view for view, _ in readings]
            if self.fast_spec is not None:  # one encoder pass per batch of sentences;
                # the spin gate reads each line's sentences together (a paragraph)
                found = self.engine.restore_sentences(views, groups=[i for i, _, _ in part])
            else:
                found = [self.restore_sentence(t) for t in views]
            for (i, a, _), (_, back), es in zip(part, readings, found):
                edits[i] += [back(e).shifted(a) for e in es]
            size = _utf8_size(t for _, _, t in part)
            if bar is not None:
                bar.update(size)
            done += size
        if bar is not None:
            bar.update(_utf8_size(line for line, _, _ in pending) - done)
        for (line, _, quoted), es in zip(pending, edits):
            yield Restoration(line, self.finish_edits(line, es, quoted))

    def finish_edits(self, line: str, edits: list[Edit],
                     protected: Sequence[tuple[int, int]] = ()) -> list[Edit]:
        """A line's edits as the engine found them (offsets into ``line``) → as restoring
        returns them: edits that touch the line's protected spans dropped (seen in the whole
        line, a sentence sees only its part; plus ``protected``, character spans that the line
        alone does not show: a quotation over a line break), restored words spelt by the case table
        (:mod:`despin.truecase`, when the model has one) and in British spelling in a line
        spelt the British way (:func:`despin.spelling.spell_edits`), and the articles before
        them made to agree (:func:`despin.articles.article_edits`). ``training.tune_fast`` scores what this
        returns, so the settings are chosen on what users get."""
        if not edits:
            return list(edits)
        keep = protected_spans(line) + list(protected)
        es = [e for e in edits if not any(a < e.end and e.start < b for a, b in keep)]
        if self.truecase is not None:  # "the U.S. [sexual intercourse→Congress]"
            es = truecase_edits(line, es, self.truecase)
        es = spell_edits(line, es)  # in a British line: "[protection→defence] minister"
        return es + article_edits(line, es)  # "an big" → "a big"

    def detect(self, text: str) -> Detection:
        """How likely ``text`` is spinner output: each sentence's probability and log-odds
        (offsets: characters into ``text``) and the whole text's, calibrated on synthetic
        validation pairs (:mod:`despin.detection`; fitted by ``python -m
        training.fit_detect``). Empty or whitespace-only text: probability 0, no sentences.
        It reads what restoring reads (:func:`_detection_units`): verbatim blocks are skipped,
        and protected words (quotations, addresses, markup, code spans) are context only.

        Raises TypeError when ``text`` is not a str, ValueError when this model has no fitted
        detector (a search-core model, or a fast one without ``detection.json``)."""
        _check_text(text, "detect")
        if self.fast_spec is None or self.detection is None:
            raise ValueError("this model has no spin detector: detection needs the fast core "
                             "and its detection.json (python -m training.fit_detect)")
        spans, protected = _detection_units(text)
        nfc = [composed(text[a:b]) for a, b in spans]  # read as restoring reads them
        rows, words, _ = sentence_rows(
            self.fast, [c.text if c else text[a:b] for c, (a, b) in zip(nfc, spans)],
            self._sentence_budget,
            [[c.view(a, b) for a, b in p] if c else p for c, p in zip(nfc, protected)])
        log_odds = self.detection.sentence_log_odds(rows) if spans else []
        return Detection.from_scores(self.detection, spans, text, list(log_odds), words)

    @overload
    def restore(self, text: str, *, workers: int = 1) -> str: ...
    @overload
    def restore(self, text: list[str], *, workers: int = 1) -> list[str]: ...

    def restore(self, text: str | Iterable[str], *, workers: int = 1) -> str | list[str]:
        """Restore one text (→ str) or several (a list or any iterable of str → list of str,
        restored together: see :meth:`restore_with_edits`, also for ``workers``);
        deterministic."""
        self._check_workers(workers)
        if isinstance(text, str):
            return self._restore_documents([text], workers)[0].text
        return [r.text for r in self._restore_documents(_documents(text, "restore"), workers)]

    __call__ = restore  # a Despinner is a restorer: list[str] -> list[str]

    # -- saving ----------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        """Write a self-contained folder: config, synonym tables, fine-tuned models. Raises
        ValueError for a searcher profile's Despinner (``profile("accurate")``): save the
        Despinner it was made from, which keeps its profiles."""
        if self._engine is not None:
            raise ValueError("this is a searcher profile of another Despinner "
                             "(profile('accurate')): save that Despinner, which keeps its "
                             "profiles and searcher folders")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        sources = []
        for s in self.sources_spec:
            s = dict(s)
            if "path" in s:
                src = Path(self._path(s["path"]))
                if src.resolve() != (folder / src.name).resolve():
                    shutil.copyfile(src, folder / src.name)
                s["path"] = src.name
            sources.append(s)
        scorers = []
        for k, spec in enumerate(self.scorer_specs):
            local = Path(self._path(spec.model))
            if local.is_dir():
                name = f"model-{k}" if k else "model"
                if local.resolve() != (folder / name).resolve():
                    if (folder / name).exists():
                        shutil.rmtree(folder / name)
                    shutil.copytree(local, folder / name)
                spec = replace(spec, model=name)
            scorers.append({k: v for k, v in spec.__dict__.items()
                            if not (k == "dtype" and v is None)})
        if self.spunness is not None:
            self.spunness.save(folder)
        if self.detector is not None:
            self.detector.save(folder)
        if self.detection is not None:
            self.detection.save(folder)
        if self.truecase is not None:
            self.truecase.save(folder / TRUECASE_FILE)
        cfg: dict[str, Any] = {"format": 1, "sources": sources, "freq_power": self.freq_power}
        if self.fast_spec is None or scorers:  # the search core's settings
            cfg.update(search=self.settings.to_dict(), scorers=scorers)
        if self.calibration is not None:
            cfg["calibration"] = self.calibration.to_dict()
        if self.profiles:
            cfg["profiles"] = self.profiles
            for p in self.profiles.values():  # a searcher folder travels with its Despinner
                src = self.base_dir / p["searcher"] if "searcher" in p and self.base_dir else None
                if src is not None and src.resolve() != (folder / p["searcher"]).resolve():
                    shutil.copytree(src, folder / p["searcher"], dirs_exist_ok=True)
        if self.fast_spec is not None:
            cfg["core"] = "fast"
            cfg["fast"] = self.fast.save(folder)
        (folder / CONFIG_NAME).write_text(json.dumps(cfg, indent=2) + "\n")
        return folder


def _read_config(path: Path) -> dict[str, Any]:
    """A folder's ``despin.json``, checked before anything loads: valid JSON; ``sources`` a
    list of source specs of known kinds (:data:`despin.synonyms.SOURCE_KINDS`); a ``fast``
    section with an ``encoder`` and valid :class:`despin.fast.FastSettings`; ``scorers``
    (:class:`ScorerSpec`), ``search`` settings and a ``calibration`` that load. (A config with
    neither a fast section nor scorers is valid: it copies its input, the identity baseline.)
    Raises ValueError naming the file and the first thing wrong."""
    from .fast import FastSettings
    from .synonyms import SOURCE_KINDS

    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("sources"), list):
        raise ValueError(f"{path} names no synonym 'sources': not a Despinner config")
    for i, spec in enumerate(cfg["sources"]):
        if not isinstance(spec, dict) or spec.get("kind", "tsv") not in SOURCE_KINDS:
            raise ValueError(f"{path}: source {i} ({spec!r}) is not a source spec of a known "
                             f"kind {list(SOURCE_KINDS)}")
    fast = cfg.get("fast")
    try:
        if fast is not None:
            if not isinstance(fast, dict) or not isinstance(fast.get("encoder"), str):
                raise ValueError("its 'fast' section names no 'encoder' folder")
            FastSettings(**fast.get("settings", {}))
        for spec in cfg.get("scorers", []):
            ScorerSpec(**spec)
        SearchSettings(**cfg.get("search", {}))
        if cfg.get("calibration"):
            Calibration.from_dict(cfg["calibration"])
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return cfg


def _documents(texts: Any, caller: str) -> list[str]:
    """``texts`` (a list or any iterable of str, not a str, bytes or a mapping) as a list;
    TypeError naming what ``caller`` expects otherwise."""
    if isinstance(texts, (bytes, bytearray, Mapping)) or not isinstance(texts, Iterable):
        raise TypeError(f"{caller}() takes a str or a list of str, got {type(texts).__name__}")
    out = list(texts)
    for t in out:
        _check_text(t, caller)
    return out


def _line_parts(sentences: list[tuple[int, int, str]], budget: int
                ) -> Iterator[list[tuple[int, int, str]]]:
    """``sentences`` ((line, offset, text), in line order) cut into engine calls of at most
    ``budget`` sentences that never split a line, except a line of more than ``budget``
    sentences, which is cut into calls of ``budget`` of its own."""
    part: list[tuple[int, int, str]] = []
    for _, group in groupby(sentences, key=lambda s: s[0]):
        line = list(group)
        if len(part) + len(line) > budget and part:
            yield part
            part = []
        if len(line) > budget:
            yield from (line[k:k + budget] for k in range(0, len(line), budget))
        else:
            part += line
    if part:
        yield part


def _utf8_size(texts: Iterable[str]) -> int:
    """Bytes of ``texts`` in UTF-8 (lone surrogates counted as written): the progress bars'
    unit."""
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)


def _check_text(text: Any, caller: str) -> None:
    """Raise TypeError naming what ``caller`` expects unless ``text`` is a str."""
    if isinstance(text, str):
        return
    hint = " (decode bytes first, e.g. data.decode('utf-8'))" if isinstance(
        text, (bytes, bytearray)) else ""
    raise TypeError(f"{caller}() expects text as a str, got {type(text).__name__}{hint}")


_HEADING_RE = re.compile(r"[ ]{0,3}#{1,6}(?:[ \t]|$)")
"""A Markdown heading line ("# Introduction"): a title of a few words, no sentence."""


def _detection_units(text: str) -> tuple[list[tuple[int, int]], list[list[tuple[int, int]]]]:
    """The sentences spin detection reads in ``text``, as restoring reads them: their spans
    (offsets into ``text``) and, per sentence, its protected text (quotations, also over line
    breaks; URLs and paths; markup and code spans; offsets into the sentence), whose words are
    read as context but not scored. Verbatim blocks (code fences, ``<pre>``…), sentences
    with no word outside protected text and sentences not in English
    (:func:`despin.language.is_foreign`) are not read: spinners leave that text alone, so it
    is no evidence either way. Nor are Markdown headings ("# Introduction"): a title's few
    words read as spun (.6–.98) where the prose under it reads clean (.01), and they are no
    sentences to weigh as one."""
    spans: list[tuple[int, int]] = []
    kept: list[list[tuple[int, int]]] = []
    reader, pos = LineReader(), 0
    for line in text.splitlines(keepends=True):
        quoted = reader.quoted(line)
        if quoted is not None and not _HEADING_RE.match(line):
            keep = protected_spans(line) + quoted
            for a, b in sentence_spans(line):
                if is_foreign(line[a:b]):
                    continue
                inside = [(max(p, a) - a, min(q, b) - a) for p, q in keep if p < b and q > a]
                if any(not any(p <= t.start < q for p, q in inside)
                       for t in tokenize(line[a:b]) if t.text[:1].isalnum()):
                    spans.append((pos + a, pos + b))
                    kept.append(inside)
        pos += len(line)
    return spans, kept


def _reading(sentence: str) -> tuple[str, Callable[[Edit], Edit]]:
    """How restorers read ``sentence`` — decomposed accents composed
    (:func:`despin.text.composed`), a sentence in capitals in lower case
    (:func:`despin.text.uncased`) — and the map that puts an edit found in that reading back on
    the sentence as written (:func:`_recased`, then :func:`_decomposed`)."""
    nfc = composed(sentence)
    base = nfc.text if nfc is not None else sentence
    lower = uncased(base)

    def back(edit: Edit) -> Edit:
        if lower is not None:
            edit = _recased(base, edit)
        return _decomposed(sentence, nfc, edit) if nfc is not None else edit

    return lower or base, back


def _decomposed(sentence: str, view: Composed, edit: Edit) -> Edit:
    """An edit found in the composed ``view`` of a sentence (:func:`despin.text.composed`), put
    back on the sentence as written: its offsets and spun text in the sentence's own (decomposed)
    characters; its originals as the index spells them (composed)."""
    start, end = view.original(edit.start, edit.end)
    return replace(edit, start=start, end=end, spun=sentence[start:end])


def _recased(sentence: str, edit: Edit) -> Edit:
    """An edit found in a sentence's :func:`despin.text.uncased` view, put back on the
    sentence in capitals: its spun text as written, its originals in capitals."""
    spun = sentence[edit.start:edit.end]
    return replace(edit, spun=spun, restored=match_case(spun, edit.restored),
                   alternatives=tuple(replace(a, text=match_case(spun, a.text))
                                      for a in edit.alternatives))
