"""Training and the model wrapper: tiny models of both kinds train, save, reload, score, resume."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from despin.from_scratch import build_llama_from_config, train_sentencepiece
from despin.logprobs import collate
from despin.model_input import (DECODER_ONLY, ENCODER_DECODER, build_model_input, encode_pair,
                                space_marks)
from despin.packaged import PACKAGED, _portable_name, packaged_base_path, resolve_model_name
from despin.resources import cache_dir
from despin.scorer import RestorationModel
from training import train as T

MOBY = [{"name": "moby", "kind": "moby", "weight": 1.0}]
SWAPS = {"said": "stated", "also": "additionally", "people": "individuals", "world": "globe",
         "make": "create", "help": "assist", "new": "recent", "many": "numerous",
         "country": "nation", "big": "large", "because": "since", "good": "great", "now":
         "currently", "must": "should", "more": "extra", "time": "period", "work": "labor"}


def _spin(sentence: str) -> str:
    return " ".join(SWAPS.get(w, w) for w in sentence.split(" "))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory, sotu_sentences) -> Path:
    """20 training pairs a tiny model can memorise, 6 for validation."""
    from datasets import Dataset, DatasetDict

    sents = [s for s in sotu_sentences if 8 <= len(s.split()) <= 25][:26]
    spun = [_spin(s) for s in sents]
    assert sum(a != b for a, b in zip(sents, spun)) >= 8
    dd = DatasetDict({
        "train": Dataset.from_dict({"original": sents[:20], "spun": spun[:20]}),
        "validation": Dataset.from_dict({"original": sents[20:], "spun": spun[20:]}),
    })
    out = tmp_path_factory.mktemp("pairs") / "tiny"
    dd.save_to_disk(str(out))
    return out


def _run(recipe: str, out: Path, data: Path, *extra: str) -> Path:
    argv = ["--config", recipe, f"data={data}", f"out={out}", "progress=false", "log_every=1",
            "eval_restore=0", "keep_checkpoints=0"] + list(extra)
    return T.main(argv)


def _train_steps(out: Path) -> list[tuple[int, float]]:
    """(step, loss) of every logged training step, in the order they were run."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["type"] == "train"]


@pytest.mark.parametrize("recipe,kind", [("train-tiny-t5.yaml", ENCODER_DECODER),
                                         ("train-tiny-causal.yaml", DECODER_ONLY)])
def test_tiny_train_save_reload_score_resume(tmp_path, pairs_dir, recipe, kind):
    out = tmp_path / "run"
    _run(recipe, out, pairs_dir, "max_steps=30", "save_every=15", "eval_every=15")
    # learns: the 20 pairs are being memorised
    steps = _train_steps(out)
    assert [s for s, _ in steps] == list(range(1, 31))
    losses = dict(steps)
    first = sum(losses[s] for s in (1, 2, 3)) / 3
    last = sum(losses[s] for s in (28, 29, 30)) / 3
    assert last < 0.8 * first, (first, last)
    assert (out / "checkpoint-15" / "optimizer.pt").exists()
    assert (out / "checkpoint-30" / "trainer_state.pt").exists()
    assert "eval step 15: val_loss=" in (out / "train.log").read_text()
    cfg = json.loads((out / "despin_config.json").read_text())
    assert cfg["kind"] == kind and cfg["n_show"] == 2 and cfg["index"] == MOBY
    assert cfg["steps"] == 30

    # reloads and scores: finite, deterministic, independent of the batch size
    model = RestorationModel.from_pretrained(out)
    assert model.kind == kind and model.despin_config["top_k"] == 8
    from datasets import load_from_disk

    ds = load_from_disk(str(pairs_dir))["train"]
    from despin.candidates import CandidateIndex

    index = CandidateIndex.from_config(MOBY)
    sources = [build_model_input(s, index, 8, 2) for s in ds["spun"][:5]]
    targets = ds["original"][:5]
    a = model.score(sources, targets, batch_size=2)
    b = model.score(sources, targets, batch_size=2)
    c = model.score(sources, targets, batch_size=16)
    assert all(math.isfinite(x) and x < 0 for x in a)
    assert a == b
    assert c == pytest.approx(a, rel=1e-4, abs=1e-3)
    # hypotheses of one sentence share its source: encoded (or prompt-cached) once, same scores
    shared = model.score([sources[0]] * 5, targets, batch_size=3)
    alone = [model.score([sources[0]], [t])[0] for t in targets]
    assert shared == pytest.approx(alone, rel=1e-4, abs=1e-3)
    # deltas against a base text: the numbers of scoring each whole, whether a hypothesis
    # differs early, late, by length, or not at all (a decoder-only model reruns only the rest)
    base = targets[0]
    w = base.split(" ")
    hyps = [base, " ".join(["The"] + w[1:]), " ".join(w[:-2] + ["great", w[-1]]),
            " ".join(w[:3] + ["very", "very"] + w[3:]), " ".join(w[:2] + w[3:]), base + " Yes.",
            " ".join(["The"] + w[1:-2] + ["great", w[-1]])]
    whole = model.score([sources[0]] * len(hyps), hyps)
    deltas = model.score_deltas(sources[0], base, hyps, batch_size=2)
    assert deltas[0] == 0.0
    assert deltas == pytest.approx([v - whole[0] for v in whole], abs=2e-3)
    if kind == DECODER_ONLY:  # plain language-model scoring
        assert all(math.isfinite(x) for x in model.score([None, None], targets[:2]))
        # a context is read, not scored: whole = context + the rest given the context, also
        # in a batch with other lengths (only the positions after a context get logits)
        for t in targets:
            k = t.index(" ", len(t) // 2)
            whole, head = model.score([None, None], [t, t[:k]], eos=False)
            tail, *_ = model.score([None] * 3, [t[k:], targets[0], t], eos=False,
                                   contexts=[t[:k], None, None])
            assert head + tail == pytest.approx(whole, abs=1e-3)
            assert tail > whole
        # a target that the context swallows (a deletion at the window's end) scores 0
        t = targets[0]
        k = t.rindex(" ")
        assert model.score([None, None], [t[k:], ""], eos=False, contexts=[t[:k], t[:k]])[1] == 0
        with pytest.raises(ValueError, match="contexts"):
            model.score([None], targets[:1], contexts=[])

    # a fresh run into the folder is refused: its checkpoints would lose to the old steps'
    with pytest.raises(FileExistsError, match="earlier run's checkpoints"):
        _run(recipe, out, pairs_dir, "max_steps=2")
    # resumes: the step counter continues from the latest checkpoint
    _run(recipe, out, pairs_dir, "max_steps=34", "save_every=0", "eval_every=0", "--resume")
    assert [s for s, _ in _train_steps(out)] == list(range(1, 35))  # 31..34, no restart at 1
    assert "resumed at step 30" in (out / "train.log").read_text()
    assert json.loads((out / "despin_config.json").read_text())["steps"] == 34
    # ... or from a named checkpoint
    _run(recipe, out, pairs_dir, "max_steps=17", "save_every=0", "eval_every=0",
         "--resume", str(out / "checkpoint-15"))
    assert "resumed at step 15" in (out / "train.log").read_text()
    assert [s for s, _ in _train_steps(out)][-2:] == [16, 17]
    assert (out / "checkpoint-17").exists()


def test_lora_adapter_train_reload_resume(tmp_path, pairs_dir):
    """The SmolLM2 path without SmolLM2: LoRA on a tiny saved causal base, adapter reloaded."""
    tok = train_sentencepiece([*_spin_texts(pairs_dir)], tmp_path / "base", vocab_size=400)
    base = build_llama_from_config(tok, d_model=64, layers=2, heads=2, d_ff=128)
    base.save_pretrained(tmp_path / "base")
    out = tmp_path / "lora"
    _run("train-tiny-causal.yaml", out, pairs_dir, f"model={tmp_path / 'base'}", "max_steps=6",
         "save_every=3", "eval_every=0", "lora.r=4", "lora.alpha=8", "lr=1e-2")
    assert (out / "adapter_config.json").exists() and not (out / "model.safetensors").exists()
    adapter_cfg = json.loads((out / "adapter_config.json").read_text())
    assert Path(adapter_cfg["base_model_name_or_path"]) == tmp_path / "base"
    model = RestorationModel.from_pretrained(out)
    assert model.kind == DECODER_ONLY and model.base_name
    scores = model.score(["a stated b", None], ["a said b", "a said b"])
    assert all(math.isfinite(s) for s in scores)
    # a shipped adapter (no optimizer state) warm-starts: weights kept, fresh step counter
    # (a learning rate too small to move them shows they are the adapter's, not a new one's)
    out2 = tmp_path / "lora2"
    _run("train-tiny-causal.yaml", out2, pairs_dir, f"model={tmp_path / 'base'}",
         "max_steps=2", "save_every=0", "eval_every=0", "lora.r=4", "lora.alpha=8",
         "lr=1e-12", "--resume", str(out))
    assert [s for s, _ in _train_steps(out2)] == [1, 2]
    from safetensors.torch import load_file

    before, after = (load_file(str(d / "adapter_model.safetensors")) for d in (out, out2))
    assert before.keys() == after.keys() and any(t.abs().sum() > 0 for t in before.values())
    assert all(torch.allclose(before[k], after[k], atol=1e-6) for k in before)


def _spin_texts(pairs_dir: Path) -> list[str]:
    from datasets import load_from_disk

    ds = load_from_disk(str(pairs_dir))["train"]
    return list(ds["original"]) + list(ds["spun"])


def test_sentencepiece_keeps_candidate_marks(tmp_path, pairs_dir):
    tok = train_sentencepiece(_spin_texts(pairs_dir), tmp_path / "sp", vocab_size=300)
    source = space_marks("a uncommon ⟨rare|few⟩ in opposition to ⟨in opposition to=against⟩ x")
    assert source == "a uncommon ⟨ rare | few ⟩ in opposition to ⟨ in opposition to = against ⟩ x"
    pieces = tok.convert_ids_to_tokens(tok(source)["input_ids"])
    for mark in ("▁⟨", "▁⟩", "▁|", "▁="):
        assert mark in pieces
    assert tok.unk_token not in pieces
    from transformers import AutoTokenizer

    again = AutoTokenizer.from_pretrained(str(tmp_path / "sp"))
    assert again(source)["input_ids"] == tok(source)["input_ids"]


def test_encode_and_collate_mask_by_position(tmp_path, pairs_dir):
    tok = train_sentencepiece(_spin_texts(pairs_dir), tmp_path / "sp", vocab_size=300)
    tok.pad_token = tok.eos_token  # as in SmolLM2: pad == eos must not hide the final EOS
    enc = encode_pair(tok, DECODER_ONLY, "the globe", "the world")
    n_prompt = enc["labels"].count(-100)
    assert n_prompt > 0 and enc["labels"][n_prompt:] == enc["input_ids"][n_prompt:]
    assert enc["labels"][-1] == tok.eos_token_id
    batch = collate([enc, encode_pair(tok, DECODER_ONLY, "x", "y")], tok.pad_token_id)
    assert int((batch["labels"][0] == tok.eos_token_id).sum()) >= 1  # the real EOS is a label
    assert int(batch["attention_mask"][1].sum()) < batch["input_ids"].shape[1]
    assert (batch["labels"][1][batch["attention_mask"][1] == 0] == -100).all()
    seq = encode_pair(tok, ENCODER_DECODER, "the globe", "the world", max_source_len=3)
    assert len(seq["input_ids"]) == 3 and seq["input_ids"][-1] == tok.eos_token_id
    assert seq["labels"][-1] == tok.eos_token_id and -100 not in seq["labels"]


def test_build_model_input():
    class Index:  # the two calls build_slots makes
        max_span_words = 1

        def lookup(self, span, top_k=10):
            from despin.candidates import Candidate

            return [Candidate("rare", 0.7, "t")] if span == "uncommon" else []

    assert build_model_input("a uncommon day", Index(), n_show=0) == "a uncommon day"
    assert build_model_input("a uncommon day", Index()) == "a uncommon ⟨rare⟩ day"


def test_recipe_overrides():
    cfg = T.load_recipe("train-tiny-t5.yaml", T.parse_overrides(["lr=1e-3", "lora.r=8",
                                                                 "max_minutes=2.5"]))
    assert cfg["lr"] == 0.001 and cfg["lora"] == {"r": 8} and cfg["max_minutes"] == 2.5
    assert cfg["model"] == "scratch-t5" and cfg["batch_size"] == 8
    with pytest.raises(ValueError, match="unknown training settings"):
        T.load_recipe("train-tiny-t5.yaml", {"learning_rate": 1})
    for name in ("train-t5-small.yaml", "train-smollm2-lora.yaml", "train-tiny-causal.yaml"):
        T.load_recipe(name)
    assert {s["name"] for s in T.default_index_spec()} >= {"moby"}


@pytest.mark.parametrize("name", sorted(PACKAGED))
def test_packaged_model_converts_once_and_scores_text(name):
    """Each packaged GGUF model converts once to a cached folder, and scores text as English."""
    path = packaged_base_path(name)
    assert path == cache_dir() / name and (path / "config.json").exists()
    made = {p.name: p.stat().st_mtime_ns for p in path.iterdir()}
    assert packaged_base_path(name) == path  # a second call finds the folder, writes nothing
    assert {p.name: p.stat().st_mtime_ns for p in path.iterdir()} == made
    assert resolve_model_name(name) == str(path)
    assert _portable_name(str(path)) == name
    model = RestorationModel.from_pretrained(name)
    assert model.kind == DECODER_ONLY and model.tokenizer.pad_token_id is not None
    good, bad = model.score([None, None], ["The army said on Tuesday that the talks were held.",
                                           "Army the said Tuesday on talks the held were that."])
    assert good > bad + 5
    # the converted folder loads in bfloat16 too, and scores alike
    half = RestorationModel.from_pretrained(name, dtype="bfloat16")
    assert half.score([None], ["The army said on Tuesday that the talks were held."]) == \
        pytest.approx([good], abs=0.05 * abs(good))


def test_unknown_packaged_model():
    with pytest.raises(ValueError, match="unknown packaged model"):
        packaged_base_path("gpt-17")


def test_training_loss_skips_the_prompt_but_not_the_numbers(tmp_path, pairs_dir):
    """training_loss: the mean cross-entropy of the labelled tokens, as the model's own loss,
    with logits computed only from the batch's first labelled position (decoder-only)."""
    import torch

    from despin.logprobs import training_loss
    from datasets import load_from_disk

    out = _run("train-tiny-causal.yaml", tmp_path / "run", pairs_dir, "max_steps=2",
               "save_every=0", "eval_every=0")
    model = RestorationModel.from_pretrained(out)
    ds = load_from_disk(str(pairs_dir))["train"]
    feats = [model.encode(build_model_input(s, None), t)
             for s, t in zip(ds["spun"][:4], ds["original"][:4])]
    batch = model.collate(feats)
    calls = []
    hook = model.model.lm_head.register_forward_hook(lambda m, i, o: calls.append(o.shape[1]))
    with torch.no_grad():
        ours = training_loss(model.model, batch, model.kind)
        theirs = model.model(**batch).loss
    hook.remove()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)
    first = int((batch["labels"] != -100).int().argmax(1).min())
    assert calls[0] == batch["labels"].shape[1] - first + 1 < calls[1]  # fewer positions


@pytest.mark.parametrize("recipe", sorted(p.name for p in (
    Path(__file__).resolve().parent.parent / "configs").glob("train-*.yaml")))
def test_every_shipped_recipe_loads(recipe):
    """Each recipe in configs/ reads without an unknown setting, through the loop its task
    names (a misspelt key in a recipe is an error at load, not a silent default)."""
    from training import encoder

    load = encoder.load_recipe if T._task(recipe, {}) == "encoder" else T.load_recipe
    cfg = load(recipe)
    assert cfg["max_steps"] > 0 or cfg.get("epochs", 0) > 0
    with pytest.raises(ValueError, match="unknown training settings"):
        load(recipe, {"no_such_setting": 1})


@pytest.mark.parametrize("recipe,override,message", [
    ("train-encoder-tiny.yaml", {"max_steps": "abc"}, "setting max_steps: expected a whole number"),
    ("train-encoder-tiny.yaml", {"max_steps": -5}, "setting max_steps: must be ≥ 1, got -5"),
    ("train-encoder-tiny.yaml", {"batch_size": 0}, "setting batch_size: must be ≥ 1, got 0"),
    ("train-encoder-tiny.yaml", {"lr": -1}, "setting lr: must be above 0"),
    ("train-encoder-tiny.yaml", {"spun_weight": "x"}, "setting spun_weight: expected a number"),
    ("train-encoder-tiny.yaml", {"max_minutes": -1}, "setting max_minutes: must be ≥ 0"),
    ("train-tiny-t5.yaml", {"max_steps": 2.5}, "setting max_steps: expected a whole number"),
    ("train-tiny-t5.yaml", {"warmup_steps": -1}, "setting warmup_steps: must be ≥ 0"),
    ("train-tiny-t5.yaml", {"task": "encodr"}, "unknown task 'encodr'"),
])
def test_recipe_values_are_checked_at_load(recipe, override, message):
    """A setting's value must be of its default's kind and in its range, so that a typo ends
    the command in one line instead of a traceback (or an untrained model) minutes later."""
    from training import encoder

    load = encoder.load_recipe if T._task(recipe, override) == "encoder" else T.load_recipe
    with pytest.raises(ValueError, match=message):
        load(recipe, override)
    assert T.load_recipe("train-tiny-t5.yaml", {"task": "restoration", "max_minutes": 1.5,
                                                 "lr": 3})["lr"] == 3


def test_lofo_recipe_writes_where_its_family_says():
    """configs/train-encoder-lofo.yaml names its output by the family it leaves out, and
    refuses to run without one."""
    from training.encoder import load_recipe, output_folder

    cfg = load_recipe("train-encoder-lofo.yaml", {"exclude_family": "spinbot"})
    assert output_folder(cfg) == "runs/lofo-enc-spinbot"
    assert output_folder({**cfg, "out": "elsewhere"}) == "elsewhere"
    with pytest.raises(ValueError, match="give exclude_family=FAMILY"):
        output_folder(load_recipe("train-encoder-lofo.yaml"))
