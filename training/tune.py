"""Choose a Despinner's copy bonus on validation pairs, from one search per sentence.

    python -m training.tune --model despin/default --data data/pairs --limit 100 [--write]
    python -m training.tune --model DIR --data data/pairs --set pair_top=3 --write
    python -m training.tune --model DIR --data data/phrases --profile phrase --write

The search runs once with the lowest bonus asked for; since a higher bonus only stops the greedy
search earlier (:func:`despin.search.search`), the output for every bonus ``b`` is the prefix of each
sentence's edits taken while their score was above ``b``. Prints edit P/R/F0.5 and the share of
words changed in clean text per bonus, and picks (:func:`choose`) the lowest bonus whose F0.5
ties with the best among those that change at most ``--max-clean`` of clean words.

A model that decodes short texts jointly (``joint_top`` > 0, e.g. the ``phrase`` profile) is not
greedy there, so its ``joint_bonus`` × ``joint_prior`` grid is swept by restoring the texts once
per setting, with every text the language model scores remembered (:func:`sweep_joint`).
"""
from __future__ import annotations

import argparse
import json
from typing import Sequence

from tqdm.auto import tqdm

from despin.despinner import SEARCH_PATH, Despinner
from despin.edits import Edit, apply_edits
from despin.search import SearchSettings
from despin.text import sentence_spans
from training.evaluate import changed_share, load_pairs, score

__all__ = ["ranked_edits", "outputs_at", "sweep", "sweep_joint", "choose", "parse_settings",
           "main"]

# A calibrated model's gain is the log-odds that an edit is right, so its bonus is a threshold
# near 0; a hand-weighted model's gain is in nats of language-model score.
CALIBRATED_BONUSES = [-2.0, -1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0]
HAND_BONUSES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12]
JOINT_BONUSES = [0, 1, 2, 3, 4, 5, 6, 8]  # nats of language-model log-probability per edit


def ranked_edits(model: Despinner, texts: Sequence[str], desc: str = "search",
                 floor: float = 0.0) -> list[list[list[Edit]]]:
    """For each text, per sentence, the edits (text offsets) in the order the search took them,
    found with ``copy_bonus = floor`` (the lowest bonus to be evaluated)."""
    saved = model.settings.copy_bonus
    model.settings.copy_bonus = floor
    try:
        out = []
        for text in tqdm(texts, desc=desc, unit="text"):
            out.append([[e.shifted(a) for e in model.restore_sentence(text[a:b])]
                        for a, b in sentence_spans(text)])
        return out
    finally:
        model.settings.copy_bonus = saved


def outputs_at(texts: Sequence[str], ranked: list[list[list[Edit]]], bonus: float,
               floor: float = 0.0) -> list[str]:
    """The restored texts for copy bonus ``bonus`` ≥ ``floor`` (prefix rule, see the module
    docstring); ``ranked`` must come from :func:`ranked_edits` with the same ``floor``."""
    if bonus < floor:
        raise ValueError(f"bonus {bonus} is below the searched floor {floor}")
    outs = []
    for text, sentences in zip(texts, ranked):
        keep: list[Edit] = []
        for edits in sentences:
            for e in edits:
                if e.score + floor <= bonus:
                    break
                keep.append(e)
        outs.append(apply_edits(text, keep))
    return outs


def sweep(model: Despinner, spun: Sequence[str], original: Sequence[str],
          bonuses: Sequence[float]) -> list[dict]:
    """Metrics per copy bonus: edit P/R/F0.5 on spun text, words changed in clean text."""
    floor = min(bonuses)
    r_spun = ranked_edits(model, spun, "search (spun)", floor)
    r_clean = ranked_edits(model, original, "search (clean)", floor)
    rows = []
    for b in bonuses:
        m = score(spun, outputs_at(spun, r_spun, b, floor), original)
        m["clean_text_changed"] = changed_share(original,
                                                outputs_at(original, r_clean, b, floor))
        m["copy_bonus"] = b
        rows.append(m)
    return rows


def sweep_joint(model: Despinner, spun: Sequence[str], original: Sequence[str],
                bonuses: Sequence[float], priors: Sequence[float]) -> list[dict]:
    """Metrics per (``joint_bonus``, ``joint_prior``) of a jointly decoding model, as
    :func:`sweep`'s (``copy_bonus`` left as it is). The language model scores each distinct
    text once: the other settings only re-rank the remembered scores."""
    lm = model.language_model
    if lm is None or not model.settings.joint_top:
        raise ValueError("sweep_joint needs a plain language model and joint_top > 0")
    real, memo = lm.model.score, {}

    def remembered(sources, targets, batch_size=16, eos=True, contexts=None):
        keys = [(s, t, c, eos) for s, t, c in
                zip(sources, targets, contexts or [None] * len(targets))]
        todo = list(dict.fromkeys(k for k in keys if k not in memo))
        if todo:
            got = real([k[0] for k in todo], [k[1] for k in todo], batch_size=batch_size,
                       eos=eos, contexts=[k[2] for k in todo])
            memo.update(zip(todo, got))
        return [memo[k] for k in keys]

    saved = (model.settings.joint_bonus, model.settings.joint_prior)
    lm.model.score = remembered
    rows = []
    try:
        for prior in priors:
            for b in bonuses:
                model.settings.joint_bonus, model.settings.joint_prior = b, prior
                outs = [model.restore(t) for t in tqdm(spun, desc=f"joint {b} {prior}",
                                                       unit="text", leave=False)]
                m = score(spun, outs, original)
                m["clean_text_changed"] = changed_share(original,
                                                        [model.restore(t) for t in original])
                m.update(copy_bonus=b, joint_bonus=b, joint_prior=prior)
                rows.append(m)
    finally:
        del lm.model.score  # the instance attribute: the class's method again
        model.settings.joint_bonus, model.settings.joint_prior = saved
    return rows


def choose(rows: list[dict], max_clean: float = 0.01, tie: float = 0.01) -> dict:
    """The sweep row to use: among bonuses changing at most ``max_clean`` of clean words, the
    lowest bonus whose F0.5 is within ``tie`` of the best — on a small validation sample, F0.5
    differences that small are noise, and the lower bonus restores more."""
    ok = [m for m in rows if m["clean_text_changed"] <= max_clean] or rows
    top = max(m["f05"] for m in ok)
    return min((m for m in ok if m["f05"] >= top - tie), key=lambda m: m["copy_bonus"])


def parse_settings(parser: argparse.ArgumentParser, items: Sequence[str]) -> dict:
    """``["pair_top=3", "pair_floor=null"]`` → ``{"pair_top": 3, "pair_floor": None}``; an
    unknown setting or a malformed item is a usage error."""
    known = set(SearchSettings.__dataclass_fields__)
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in known:
            parser.error(f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(known)}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            parser.error(f"--set {item!r}: {value!r} is not a JSON value")
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m training.tune",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None,
                   help="Despinner folder (default: the shipped search core, "
                        "despin/default/accurate)")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="validation")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--bonuses", type=float, nargs="*",
                   help="copy bonuses to try (default: -2…3 in log-odds for a calibrated model, "
                        "0…12 nats otherwise)")
    p.add_argument("--max-clean", type=float, default=0.01)
    p.add_argument("--tie", type=float, default=0.01,
                   help="F0.5 within this of the best counts as a tie; ties go to the lowest bonus")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a search setting for the sweep (saved with --write), e.g. "
                        "pair_top=3; VALUE is read as JSON")
    p.add_argument("--joint-priors", type=float, nargs="*", default=[0.0, 0.5, 1.0],
                   help="joint_prior values swept with the bonuses (a jointly decoding model)")
    p.add_argument("--profile", help="tune this profile of the model (e.g. phrase; one it "
                                     "lacks starts as the model itself)")
    p.add_argument("--write", action="store_true", help="save the chosen bonus into --model")
    args = p.parse_args(argv)
    base = Despinner.from_pretrained(args.model or SEARCH_PATH)
    overrides = parse_settings(p, args.set)
    # a profile the model lacks starts as the model itself (and is created by --write)
    model = base.profile(args.profile) if args.profile in base.profiles else \
        base.derive() if args.profile else base
    for key, value in overrides.items():
        setattr(model.settings, key, value)
    joint = bool(model.settings.joint_top)
    bonuses = args.bonuses or (JOINT_BONUSES if joint else CALIBRATED_BONUSES
                               if model.calibration else HAND_BONUSES)
    spun, original = load_pairs(args.data, args.split, args.limit)
    if joint:
        rows = sweep_joint(model, spun, original, bonuses, args.joint_priors)
    else:
        rows = sweep(model, spun, original, bonuses)
    what = "joint_bonus" if joint else "copy_bonus"
    print(f"{'prior':>6} " * joint + f"{'bonus':>6} {'P':>6} {'R':>6} {'F0.5':>6} "
          f"{'clean-text changed':>19}")
    for m in rows:
        print(f"{m.get('joint_prior', 0):6.1f} " * joint + f"{m['copy_bonus']:6.2f} "
              f"{m['precision']:6.3f} {m['recall']:6.3f} {m['f05']:6.3f} "
              f"{m['clean_text_changed']:19.2%}")
    best = choose(rows, args.max_clean, args.tie)
    print(f"best {what} {best['copy_bonus']}"
          + (f", joint_prior {best['joint_prior']}" if joint else "")
          + f" (F0.5 {best['f05']:.3f}, clean-text changed {best['clean_text_changed']:.2%}) on "
          f"{len(spun)} {args.split} pairs")
    if args.write:
        if joint:
            model.settings.joint_bonus = best["joint_bonus"]
            model.settings.joint_prior = best["joint_prior"]
        else:
            model.settings.copy_bonus = best["copy_bonus"]
        if args.profile:
            base.set_profile(args.profile, model)
        base.save_pretrained(base.base_dir if args.model is None else args.model)
    return best


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.tune")
