"""The Viterbi decoder against brute-force enumeration, and the n-gram model it reads."""
from __future__ import annotations

import itertools
import math
import random

import pytest

from despin.decoder import Arc, path_score, viterbi


def toy_logprob(vocab_seed: int):
    """A deterministic trigram-like score: depends on (word, prev1, prev2) only."""
    cache: dict = {}

    def logprob(w, h1, h2=None):
        key = (w, h1, h2)
        if key not in cache:
            cache[key] = -random.Random(hash(key) ^ vocab_seed).uniform(0.5, 6.0)
        return cache[key]
    return logprob


def random_lattice(rng: random.Random, n: int):
    """Copy arcs for n tokens plus random edit arcs (1-3 tokens wide, 1-4 words)."""
    vocab = [f"w{k}" for k in range(6)]
    arcs = [Arc(i, i + 1, (rng.choice(vocab),) if rng.random() > 0.15 else ()) for i in range(n)]
    edits = []
    for slot in range(rng.randint(0, 5)):
        a = rng.randrange(n)
        b = min(n, a + rng.randint(1, 3))
        for cand in range(rng.randint(1, 3)):
            words = tuple(rng.choice(vocab) for _ in range(rng.randint(0, 3)))
            edits.append(Arc(a, b, words, rng.uniform(-4, 4), slot, cand))
    return arcs, edits


def brute_force(n, copies, edits, logprob, lm_weight):
    """Best score over every set of non-overlapping edits (at most one per slot)."""
    best = -math.inf
    for r in range(len(edits) + 1):
        for chosen in itertools.combinations(edits, r):
            spans = sorted((e.start, e.end) for e in chosen)
            if any(a2 < b1 for (_, b1), (a2, _) in zip(spans, spans[1:])):
                continue
            path, i = [], 0
            for e in sorted(chosen, key=lambda e: e.start):
                path += copies[i:e.start] + [e]
                i = e.end
            path += copies[i:]
            best = max(best, path_score(path, logprob, lm_weight))
    return best


@pytest.mark.parametrize("seed", range(60))
def test_viterbi_equals_brute_force(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 7)
    copies, edits = random_lattice(rng, n)
    logprob = toy_logprob(seed)
    lm_weight = rng.choice([0.3, 1.0, 2.0])
    best = viterbi(n, copies + edits, logprob, lm_weight)
    assert best.score == pytest.approx(brute_force(n, copies, edits, logprob, lm_weight))
    # the returned path is a real path whose own score is the best score
    assert [a.start for a in best.arcs][0] == 0 and best.arcs[-1].end == n
    assert all(x.end == y.start for x, y in zip(best.arcs, best.arcs[1:]))
    assert path_score(best.arcs, logprob, lm_weight) == pytest.approx(best.score)


@pytest.mark.parametrize("seed", range(40))
def test_local_gain_equals_whole_path_difference(seed):
    from despin.decoder import local_gain

    rng = random.Random(seed)
    n = rng.randint(1, 9)
    copies, edits = random_lattice(rng, n)
    logprob = toy_logprob(seed)
    for e in edits:
        path = copies[:e.start] + [e] + copies[e.end:]
        whole = path_score(path, logprob) - path_score(copies, logprob)
        assert local_gain(copies, e, logprob) == pytest.approx(whole)


@pytest.mark.parametrize("seed", range(40))
def test_local_gains_of_a_slot_equal_each_local_gain(seed):
    """One slot's candidates scored together (the copied words read once) give each arc's own
    local_gain exactly; arcs over different tokens are refused."""
    from despin.decoder import local_gain, local_gains

    rng = random.Random(seed)
    n = rng.randint(1, 9)
    copies, edits = random_lattice(rng, n)
    logprob = toy_logprob(seed)
    for a, b in {(e.start, e.end) for e in edits}:
        same = [e for e in edits if (e.start, e.end) == (a, b)]
        assert local_gains(copies, same, logprob) == [local_gain(copies, e, logprob)
                                                      for e in same]
    assert local_gains(copies, [], logprob) == []
    if n >= 2:
        with pytest.raises(ValueError):
            local_gains(copies, [Arc(0, 1, ("a",)), Arc(0, 2, ("a",))], logprob)


def test_viterbi_needs_copy_arcs():
    with pytest.raises(ValueError):
        viterbi(2, [Arc(0, 1, ("a",))], toy_logprob(0))
    with pytest.raises(ValueError):
        viterbi(1, [Arc(0, 2, ("a",))], toy_logprob(0))


def test_viterbi_takes_neighbouring_swaps_together():
    """Two edits that only pay together (each alone makes an unseen trigram) are both taken."""
    good = {("rare", "a", "<s>"): -1.0, ("moment", "rare", "a"): -1.0}

    def logprob(w, h1, h2=None):
        return good.get((w, h1, h2), -3.0 if w in ("uncommon", "second") else -8.0)

    copies = [Arc(0, 1, ("a",)), Arc(1, 2, ("uncommon",)), Arc(2, 3, ("second",))]
    edits = [Arc(1, 2, ("rare",), -0.5, 0, 0), Arc(2, 3, ("moment",), -0.5, 1, 0)]
    best = viterbi(3, copies + edits, logprob, 1.0, eos=False)
    assert [a.words for a in best.edits] == [("rare",), ("moment",)]


def test_ngram_model_scores_in_nats():
    pytest.importorskip("pocketsphinx")
    from despin.ngram import NGramLM

    lm = NGramLM()
    good = lm.sentence_logprob("a rare moment of mutual need".split())
    bad = lm.sentence_logprob("a uncommon second of mutual want".split())
    assert good > bad + 5  # nats
    assert -15 < lm.logprob("the") < -1
    assert lm.logprob("xqztv") == lm.oov
    # an unknown hyphenated word is read as its known parts
    assert lm.logprob("state-of-art-xq") == lm.oov
    assert lm.logprob("rare-momentx", "a") == lm.oov
    assert lm.logprob("rare-moment", "a") == pytest.approx(
        lm.logprob("rare", "a") + lm.logprob("moment", "rare", "a"))


@pytest.mark.parametrize("seed", range(200))
def test_a_later_pass_maps_its_edits_back_onto_the_input(seed):
    """``passes`` > 1 decodes the restored text again; ``_map_back`` carries those edits to
    the input's offsets. Property, over random swaps and deletions (the fast core's edits: it
    puts no word in where there was none): every edit kept spans in the input exactly the
    text it spanned in the restored text, and applying both passes' edits to the input equals
    applying the kept later ones to the first pass's output. Regression: an edit that ends
    where an earlier deletion was made (``" really"`` deleted right after it) used to be
    stretched over the deleted text ("edit does not fit the text")."""
    from despin.edits import Edit, Restoration, apply_edits
    from despin.fast import _map_back

    rng = random.Random(seed)
    words = [rng.choice(["the", "men", "really", "said", "navy", "know-how", "a", "x"])
             for _ in range(rng.randint(2, 9))]
    text = " ".join(words)

    def random_edits(s: str) -> list[Edit]:
        """Non-overlapping word edits of ``s``: a word swapped, or deleted with the space
        before it; each edit's score is its number (to tell them apart)."""
        out, pos = [], 0
        for w in s.split(" "):
            start, end = pos, pos + len(w)
            kind = rng.random()
            if kind < 0.3 and w:
                out.append(Edit(start, end, w, w.upper() + "s", float(len(out))))
            elif kind < 0.6 and start > 0 and (not out or out[-1].end < start - 1):
                out.append(Edit(start - 1, end, s[start - 1:end], "", float(len(out))))
            pos = end + 1
        return out

    first = Restoration(text, random_edits(text))
    later = random_edits(first.text)
    mapped = _map_back(first, later)
    for e in mapped:
        assert text[e.start:e.end] == e.spun
    kept = [e for e in later if e.score in {m.score for m in mapped}]
    assert len(kept) == len(mapped)
    both = Restoration(text, sorted(first.edits + mapped, key=lambda e: e.start))
    assert both.text == apply_edits(first.text, kept)


def test_a_later_pass_next_to_an_earlier_deletion():
    """The regression case itself: "firmly really" → "firmly" (a deletion) in the first
    pass, then "firmly" → "strongly" in the second."""
    from despin.edits import Edit, Restoration
    from despin.fast import _map_back

    first = Restoration("held firmly really.", [Edit(11, 18, " really", "", 2.0)])
    assert first.text == "held firmly."
    (mapped,) = _map_back(first, [Edit(5, 11, "firmly", "strongly", 1.0)])
    assert (mapped.start, mapped.end) == (5, 11)
    assert Restoration(first.input, first.edits + [mapped]).text == "held strongly."
