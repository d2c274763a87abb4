"""The restorer: lattice search, whole documents, edits as data, save/load — with a scorer
whose preferences are known, so every expected output can be worked out by hand."""
from __future__ import annotations

import json

import pytest

from despin.candidates import CandidateIndex
from despin.despinner import Despinner, ScorerSpec
from despin.edits import Edit, apply_edits
from despin.search import SearchSettings
from despin.synonyms import DEFAULT_SOURCES
from despin.text import words
from training.tune import outputs_at, ranked_edits

# Words a (toy) scorer likes and dislikes: 4 nats each.
GOOD = {"rare", "moment", "need", "military", "technology", "against", "said", "war"}
BAD = {"uncommon", "second", "want", "navy", "know-how", "stated", "warfare"}


class ToyModel:
    """Stands in for a RestorationModel: log-score = 4·(good words − bad words)."""

    despin_config: dict = {}

    def score(self, sources, targets, batch_size=16, eos=True, contexts=None):
        return [4.0 * sum((w.lower() in GOOD) - (w.lower() in BAD) for w in words(t))
                for t in targets]

    def score_deltas(self, source, base, hyps, batch_size=16):
        """As RestorationModel.score_deltas: each hypothesis's score minus the base's."""
        first, *rest = self.score([source] * (len(hyps) + 1), [base, *hyps])
        return [v - first for v in rest]


@pytest.fixture(scope="module")
def index() -> CandidateIndex:
    return CandidateIndex.from_config(DEFAULT_SOURCES)


def toy(index, **settings) -> Despinner:
    return Despinner(DEFAULT_SOURCES, [ScorerSpec("toy", 1.0, True)],
                     SearchSettings(**{"prior_weight": 0.0, "copy_bonus": 1.0, **settings}),
                     index=index, models=[ToyModel()])


def test_restores_and_reports_edits(index):
    d = toy(index)
    text = "It comes at a uncommon second of mutual want, Mr. Navy stated."
    r = d.restore_with_edits(text)
    assert r.text == "It comes at a rare moment of mutual need, Mr. Navy said."
    assert [(e.spun, e.restored) for e in r.edits] == [
        ("uncommon", "rare"), ("second", "moment"), ("want", "need"), ("stated", "said")]
    for e in r.edits:
        assert text[e.start:e.end] == e.spun and e.score > 0
    assert d.restore(text) == r.text and d([text]) == [r.text]


def test_copy_bonus_controls_edits(index):
    text = "a uncommon second"
    assert toy(index, copy_bonus=1.0).restore(text) == "a rare moment"
    assert toy(index, copy_bonus=100.0).restore(text) == text


def test_protected_text_is_never_edited(index):
    d = toy(index)
    text = ('He stated “the navy know-how is uncommon” on 12 May 2023 at www.navy.mil, '
            "and the Navy Yard stated nothing.")
    out = d.restore(text)
    assert out == ('He said “the navy know-how is uncommon” on 12 May 2023 at www.navy.mil, '
                   "and the Navy Yard said nothing.")


def test_document_bytes_kept_outside_edits(index):
    d = toy(index)
    doc = "  First  line:  a uncommon second.\r\n\n\tNext paragraph -- navy know-how!  \n\n"
    r = d.restore_with_edits(doc)
    assert r.text == "  First  line:  a rare moment.\r\n\n\tNext paragraph -- military technology!  \n\n"
    # undoing the edits gives the input back, byte for byte
    undo = [Edit(e.start, e.start + len(e.restored), e.restored, e.spun, 0.0) for e in r.edits]
    shift, back = 0, []
    for e, u in zip(r.edits, undo):
        back.append(Edit(u.start + shift, u.end + shift, u.spun, u.restored, 0.0))
        shift += len(e.restored) - len(e.spun)
    assert apply_edits(r.text, back) == doc
    assert json.loads(json.dumps(r.to_dict()))["text"] == r.text


def test_no_scorer_means_no_edit(index):
    d = Despinner(DEFAULT_SOURCES, [], index=index)
    assert d.restore("a uncommon second") == "a uncommon second"


def test_bad_input_is_rejected(index):
    with pytest.raises(TypeError):
        toy(index).restore(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Despinner(DEFAULT_SOURCES, [ScorerSpec("toy")], models=[])
    with pytest.raises(FileNotFoundError):
        Despinner.from_pretrained("/nonexistent/folder")


def test_tuning_prefix_rule_matches_search(index):
    """outputs_at(bonus) from one search at the floor equals a real search at that bonus."""
    texts = ["It comes at a uncommon second of mutual want.", "The navy know-how stated war."]
    for floor in (0.0, -3.0):
        ranked = ranked_edits(toy(index), texts, floor=floor)
        for bonus in (floor, 0.0, 1.0, 3.9, 4.1, 8.5, 50.0):
            expected = toy(index, copy_bonus=bonus).restore(texts)
            assert outputs_at(texts, ranked, bonus, floor) == expected
    with pytest.raises(ValueError):
        outputs_at(texts, ranked, -10.0, -3.0)


def test_save_and_load_round_trip(tmp_path, index):
    specs = [ScorerSpec("smollm2-135m", 0.5, False),
             ScorerSpec("gemma3-270m", 0.2, False, 0.1, "bfloat16")]
    d = Despinner(DEFAULT_SOURCES, specs, SearchSettings(copy_bonus=6.5, top_k=3))
    folder = d.save_pretrained(tmp_path / "m")
    cfg = json.loads((folder / "despin.json").read_text())
    assert cfg["search"]["copy_bonus"] == 6.5
    assert {s["path"] for s in cfg["sources"] if "path" in s} <= {p.name for p in folder.iterdir()}
    again = Despinner.from_pretrained(folder, copy_bonus=2.0)
    assert again.settings.top_k == 3 and again.settings.copy_bonus == 2.0
    assert again.scorer_specs == specs
    assert "dtype" not in cfg["scorers"][0] and cfg["scorers"][1]["dtype"] == "bfloat16"
    assert again.index.lookup("know-how")[0].text == "technology"


def test_choose_prefers_recall_among_ties():
    from training.tune import choose

    rows = [{"copy_bonus": b, "f05": f, "clean_text_changed": c}
            for b, f, c in [(1, 0.60, 0.03), (3, 0.505, 0.008), (5, 0.50, 0.004), (8, 0.513, 0.003)]]
    assert choose(rows)["copy_bonus"] == 3           # bonus 1 changes too much clean text
    assert choose(rows, tie=0.0)["copy_bonus"] == 8
    assert choose(rows, max_clean=0.1)["copy_bonus"] == 1


def test_tune_set_parses_search_overrides():
    import argparse

    from training.tune import parse_settings

    parser = argparse.ArgumentParser()
    assert parse_settings(parser, ["pair_top=3", "pair_floor=null", "copy_bonus=-0.25"]) == \
        {"pair_top": 3, "pair_floor": None, "copy_bonus": -0.25}
    for bad in ("pair_tops=3", "pair_top", "pair_top=three"):
        with pytest.raises(SystemExit):
            parse_settings(parser, [bad])


def test_gap_weight_favours_the_scorers_choice_in_a_slot():
    """gain = weight·Δ + gap_weight·(Δ − best Δ in the slot) + bias − copy bonus."""
    from despin.candidates import Candidate
    from despin.lattice import Slot
    from despin.search import Term, search

    slot = Slot(2, 10, 1, 2, "uncommon", [Candidate("rare", 0.5, "moby"),
                                          Candidate("few", 0.5, "moby")])
    deltas = {"rare": 2.0, "few": 3.0}

    def delta(current, proposals):
        return [deltas[p.restored] for p in proposals]

    bias = lambda s, j: 2.0 if s.candidates[j].text == "rare" else 0.0  # noqa: E731
    settings = SearchSettings(copy_bonus=0.5)
    plain = search([slot], [Term(delta)], settings, bias)
    assert [(e.restored, e.score) for e in plain] == [("rare", 2.0 + 2.0 - 0.5)]
    gapped = search([slot], [Term(delta, gap_weight=2.0)], settings, bias)
    assert [(e.restored, e.score) for e in gapped] == [("few", 3.0 - 0.5)]  # rare: 4 − 2 − 0.5
    assert search([slot], [Term(delta, weight=0.5, gap_weight=2.0)], SearchSettings(copy_bonus=3),
                  bias) == []  # few 1.5 − 3, rare 1 + 2 − 2 − 3: nothing gains


def test_window_delta_equals_the_windows_score_difference(index):
    """A plain LM's Δ reads the words before the change as unscored context: it must equal the
    score of the whole edited window minus that of the whole current window."""
    from despin.scorer import RestorationModel
    from despin.search import candidate_edit, move_edits
    from despin.text import tokenize

    lm = RestorationModel.from_pretrained("smollm2-135m")
    d = Despinner(DEFAULT_SOURCES, [ScorerSpec("smollm2-135m", 1.0, False)],
                  SearchSettings(window=3, top_k=3, prefilter=0), index=index, models=[lm])
    sentence = "Officers stated the hearth began within the kitchen final yr."
    slots = d.lattice(sentence)
    current = [candidate_edit(slots[1], 0)]
    proposals = [candidate_edit(s, j) for s in slots[2:] for j in range(len(s.candidates))]
    # pair moves too: two neighbouring slots' first candidates, taken together
    pairs = [(candidate_edit(s, 0), candidate_edit(t, 0)) for s in slots[2:] for t in slots[2:]
             if 0 <= t.tok_start - s.tok_end <= 1]
    assert len(pairs) >= 2
    proposals += pairs
    got = d.terms(sentence, slots, raw=True)[0].delta(current, proposals)
    tokens = tokenize(sentence)
    expected = []
    for p in proposals:
        edits = move_edits(p)
        a = next(k for k, t in enumerate(tokens) if t.start == edits[0].start)
        b = next(k for k, t in enumerate(tokens) if t.end == edits[-1].end) + 1
        lo, hi = tokens[max(0, a - 3)].start, tokens[min(len(tokens), b + 3) - 1].end
        inside = [e.shifted(-lo) for e in current if lo <= e.start and e.end <= hi]
        old = apply_edits(sentence[lo:hi], inside)
        new = apply_edits(sentence[lo:hi], inside + [e.shifted(-lo) for e in edits])
        s_old, s_new = lm.score([None, None], [old, new], eos=False)
        expected.append(s_new - s_old)
    assert len(proposals) >= 8
    assert got == pytest.approx(expected, abs=2e-3)


class PairToy(ToyModel):
    """ToyModel, but a sentence with only one of "uncommon" and "second" loses 10: in "a
    uncommon second", each word restored alone reads worse than the spun pair."""

    def score(self, sources, targets, batch_size=16, eos=True, contexts=None):
        return [v - 10.0 * (("uncommon" in words(t.lower())) != ("second" in words(t.lower())))
                for v, t in zip(super().score(sources, targets), targets)]


def pair_toy(index, **settings) -> Despinner:
    return Despinner(DEFAULT_SOURCES, [ScorerSpec("toy", 1.0, True)],
                     SearchSettings(**{"prior_weight": 0.0, "copy_bonus": 1.0, **settings}),
                     index=index, models=[PairToy()])


def test_pair_moves_take_swaps_that_only_pass_together(index):
    text = "It comes at a uncommon second of mutual want."
    assert pair_toy(index).restore(text) == "It comes at a uncommon second of mutual need."
    r = pair_toy(index, pair_top=3).restore_with_edits(text)
    assert r.text == "It comes at a rare moment of mutual need."
    # each edit of the pair: Δ given the other = 16 − (8 − 10), minus the copy bonus 1; both
    # carry that score, and the pair is taken before "need" (8 − 1)
    assert [(e.restored, e.score) for e in r.edits] == [("rare", 17.0), ("moment", 17.0),
                                                         ("need", 7.0)]
    far = "It comes at a uncommon and very second."  # two words between the slots
    assert pair_toy(index, pair_top=3).restore(far) == far
    assert pair_toy(index, pair_top=3, pair_reach=2).restore(far) == \
        "It comes at a rare and very moment."


def test_pair_moves_keep_the_tuning_prefix_rule(index):
    texts = ["It comes at a uncommon second of mutual want.", "A uncommon second stated war."]
    for floor in (0.0, -3.0):
        ranked = ranked_edits(pair_toy(index, pair_top=3), texts, floor=floor)
        for bonus in (floor, 1.0, 7.9, 8.1, 16.9, 17.1, 50.0):
            expected = pair_toy(index, pair_top=3, copy_bonus=bonus).restore(texts)
            assert outputs_at(texts, ranked, bonus, floor) == expected
    assert expected == texts  # the last bonus, 50, takes nothing


def test_pair_score_with_gap_weight_is_worked_out_by_hand():
    """Δ(a | b) = Δ(a, b) − Δ(b); the gap's reference is the slot's best Δ given b: over the
    candidates tried with b, that, and for the others their own Δ."""
    from despin.candidates import Candidate
    from despin.lattice import Slot
    from despin.search import Term, move_edits, search

    s1 = Slot(2, 10, 1, 2, "uncommon", [Candidate("rare", 0.5, "moby"),
                                        Candidate("few", 0.5, "moby"),
                                        Candidate("odd", 0.5, "moby")])
    s2 = Slot(11, 17, 2, 3, "second", [Candidate("moment", 0.5, "moby")])
    single = {"rare": -1.0, "few": 0.0, "odd": 8.0, "moment": -1.0}
    joint = {("rare", "moment"): 6.0, ("few", "moment"): -1.0, ("odd", "moment"): 7.0}

    def delta(current, proposals):
        return [joint[tuple(e.restored for e in move_edits(p))] if isinstance(p, tuple)
                else single[p.restored] for p in proposals]

    bias = lambda s, j: -20.0 if s.candidates[j].text == "odd" else 0.0  # noqa: E731
    term = Term(delta, gap_weight=1.0)
    # singles: odd 8 − 20 − 0.5; rare −1 + (−1 − 8) − 0.5; few 0 − 8 − 0.5; moment −1.5
    assert search([s1, s2], [term], SearchSettings(copy_bonus=0.5), bias) == []
    # pair_top 2 tries few and rare (the best two by own gain) with moment. rare | moment =
    # 6 + 1 = 7, behind odd's own 8 (untried): 7 + (7 − 8) − 0.5 = 5.5; moment | rare = 7,
    # the best of its slot: 7 − 0.5 = 6.5. The pair's score is the smaller.
    got = search([s1, s2], [term], SearchSettings(copy_bonus=0.5, pair_top=2), bias)
    assert [(e.restored, e.score) for e in got] == [("rare", 5.5), ("moment", 5.5)]
    # pair_top 1 tries few alone with moment: few | moment = 0, 8 behind odd → nothing
    assert search([s1, s2], [term], SearchSettings(copy_bonus=0.5, pair_top=1), bias) == []
    # a floor on the own score (copy bonus aside) that rare (−10) misses: nothing
    assert search([s1, s2], [term], SearchSettings(copy_bonus=0.5, pair_top=2, pair_floor=-9.0),
                  bias) == []


def test_joint_search_takes_the_best_whole_combination(index):
    from despin.search import joint_search

    d = toy(index)
    text = "uncommon second"
    slots = d.lattice(text)
    # a scorer that likes only the whole phrase: no single edit gains anything on its own
    liked = lambda texts: [10.0 if t == "rare moment" else 0.0 for t in texts]  # noqa: E731
    settings = SearchSettings(top_k=25, joint_top=25, joint_prior=0.0, joint_bonus=1.0)
    edits = joint_search(text, slots, liked, settings)
    assert apply_edits(text, edits) == "rare moment"
    assert [e.score for e in edits] == [8.0, 8.0]  # 10 − 2 · copy bonus, over the input's 0
    settings.joint_bonus = 5.0  # 10 − 2 · 5: no better than the input
    assert joint_search(text, slots, liked, settings) == []
    # only the ``joint_top`` first candidates of each slot are combined
    second = f"{slots[0].candidates[1].text} {slots[1].candidates[0].text}"
    liked2 = lambda texts: [10.0 if t == second else 0.0 for t in texts]  # noqa: E731
    settings.joint_bonus, settings.joint_top = 1.0, 1
    assert joint_search(text, slots, liked2, settings) == []
    settings.joint_top = 2
    assert apply_edits(text, joint_search(text, slots, liked2, settings)) == second
    # between equally liked combinations the priors decide: one edit (each costs a log prior
    # and a bonus), the likeliest candidate of any slot
    flat = lambda texts: [0.0 if t == text else 5.0 for t in texts]  # noqa: E731
    settings.joint_top, settings.joint_prior = 25, 1.0
    (a,) = joint_search(text, slots, flat, settings)
    assert a.prior == max(sl.candidates[0].prior for sl in slots)


def test_joint_decoding_in_the_restorer(index):
    """A plain LM scorer with ``joint_top``: texts of at most ``joint_slots`` slots are decoded
    jointly, longer ones by the greedy search."""
    d = Despinner(DEFAULT_SOURCES, [ScorerSpec("toy", 1.0, False)],
                  SearchSettings(prefilter=0, prior_weight=0.0, joint_top=25, joint_prior=0.0,
                                 joint_bonus=1.0, copy_bonus=1.0),
                  index=index, models=[ToyModel()])
    r = d.restore_with_edits("uncommon second")
    assert r.text == "rare moment" and [e.score for e in r.edits] == [14.0, 14.0]
    d.settings.joint_bonus = 8.5  # 16 − 2 · 8.5 < 0 (the greedy search's copy bonus is apart)
    assert d.restore("uncommon second") == "uncommon second"
    d.settings.joint_slots = 1  # two slots: the greedy search
    r = d.restore_with_edits("uncommon second")
    assert r.text == "rare moment" and [e.score for e in r.edits] == [7.0, 7.0]


def test_tune_sweeps_joint_settings_with_each_text_scored_once(index):
    from training.tune import choose, sweep_joint

    class Counting(ToyModel):
        def __init__(self):
            self.seen = []

        def score(self, sources, targets, batch_size=16, eos=True, contexts=None):
            self.seen += targets
            return super().score(sources, targets, batch_size, eos, contexts)

    lm = Counting()
    d = Despinner(DEFAULT_SOURCES, [ScorerSpec("toy", 1.0, False)],
                  SearchSettings(prefilter=0, joint_top=25, joint_prior=0.0), index=index,
                  models=[lm])
    spun, original = ["uncommon second", "a want"], ["rare moment", "a need"]
    rows = sweep_joint(d, spun, original, [1.0, 9.0], [0.0, 0.5])
    assert [(m["joint_bonus"], m["joint_prior"]) for m in rows] == [
        (1.0, 0.0), (9.0, 0.0), (1.0, 0.5), (9.0, 0.5)]
    assert rows[0]["f05"] == 1.0 and rows[0]["clean_text_changed"] == 0.0
    assert rows[1]["recall"] == 0.0  # 8 nats per word gained, 9 asked
    assert len(lm.seen) == len(set(lm.seen))  # four settings, each text scored once
    assert d.settings.joint_bonus == 3.0 and "score" not in vars(lm)  # all put back
    assert choose(rows)["joint_bonus"] == 1.0


def test_fine_tuned_scorer_reads_its_training_input(index):
    """A model that reads the candidate-augmented input sees it as training built it (the
    index's best candidates by prior, its own top_k and n_show), even when the language model's
    prefilter has cut and reordered the slots the search works on."""
    from dataclasses import replace

    from despin.model_input import build_model_input

    class Recording(ToyModel):
        despin_config = {"top_k": 8, "n_show": 2}

        def __init__(self):
            self.sources = set()

        def score(self, sources, targets, batch_size=16, eos=True, contexts=None):
            self.sources.update(sources)
            return super().score(sources, targets)

    model = Recording()
    d = Despinner(DEFAULT_SOURCES, [ScorerSpec("ft", 1.0, True)],
                  SearchSettings(prior_weight=0.0, copy_bonus=1.0, n_show=3), index=index,
                  models=[model])
    text = "It comes at a uncommon second of mutual want."
    full = d.lattice(text)
    # what a prefilter does: drop a slot, keep a slot's later candidates first
    cut = [replace(s, candidates=s.candidates[::-1]) for s in full[1:]]
    d.lattice = lambda sentence: cut
    assert d.restore(text) != text
    assert model.sources == {build_model_input(text, index, top_k=8, n_show=2)}
    assert build_model_input(text, index, top_k=8, n_show=2) != text


def test_int8_output_layer_scores_close_to_float32():
    """RestorationModel.quantize_output_layer: the output layer becomes int8 (once), the
    scores stay within a few per cent of float32's and keep their order; a bfloat16 model is
    left alone."""
    import torch

    from despin.scorer import RestorationModel

    lm = RestorationModel.from_pretrained("smollm2-135m")
    texts = ["The men said the talks would resume on Monday.",
             "The men stated the talks would resume on Monday.",
             "A rare moment of mutual need.", "A uncommon second of mutual want.",
             "Military technology is advancing quickly.", "Navy know-how is advancing quickly."]
    before = lm.score([None] * len(texts), texts)
    assert lm.quantize_output_layer() is True
    assert not isinstance(lm.model.get_output_embeddings(), torch.nn.Linear)
    assert lm.quantize_output_layer() is False  # already int8
    after = lm.score([None] * len(texts), texts)
    assert all(abs(a - b) < 0.1 * abs(b) for a, b in zip(after, before))
    for k in range(0, len(texts), 2):  # each original still beats its spun version
        assert (before[k] > before[k + 1]) and (after[k] > after[k + 1])
    half = RestorationModel.from_pretrained("smollm2-135m", dtype="bfloat16")
    assert half.quantize_output_layer() is False
