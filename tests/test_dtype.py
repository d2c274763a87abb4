"""The scoring models' dtype: "auto" takes bfloat16 only where the device computes it natively;
a dtype given to from_pretrained or the CLI overrides the scorers' own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

import despin.dtypes as dtypes
from despin.despinner import SEARCH_PATH, Despinner, ScorerSpec
from despin.dtypes import auto_dtype, check_dtype, resolve_dtype
from despin.synonyms import DEFAULT_SOURCES

from .conftest import REPO


def cpu(monkeypatch, avx512_bf16=False, amx=False, capability="AVX512"):
    """The CPU probes as on a machine with these features and kernels."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16,
                        raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)


@pytest.mark.parametrize("avx512_bf16,amx,expected", [
    (True, False, "bfloat16"), (False, True, "bfloat16"), (True, True, "bfloat16"),
    (False, False, "float32")])
def test_cpu_takes_bfloat16_only_with_native_support(monkeypatch, avx512_bf16, amx, expected):
    cpu(monkeypatch, avx512_bf16, amx)
    assert auto_dtype("cpu") == auto_dtype(torch.device("cpu")) == expected


@pytest.mark.parametrize("capability", ["AVX2", "DEFAULT", "NO AVX"])
def test_kernels_lowered_below_bf16_mean_float32(monkeypatch, capability):
    cpu(monkeypatch, avx512_bf16=True, amx=True, capability=capability)
    assert auto_dtype("cpu") == "float32"


def test_missing_probes_mean_float32(monkeypatch):
    cpu(monkeypatch, avx512_bf16=True)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert auto_dtype("cpu") == "float32"
    cpu(monkeypatch, avx512_bf16=True)
    monkeypatch.delattr(torch.backends.cpu, "get_cpu_capability")
    assert auto_dtype("cpu") == "float32"


def test_aten_cpu_capability_avx2_means_float32():
    """The environment variable, not a patched probe: torch's kernels really run AVX2."""
    code = "from despin.dtypes import auto_dtype; print(auto_dtype('cpu'))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "float32"


@pytest.mark.parametrize("supported,expected", [(True, "bfloat16"), (False, "float32")])
def test_cuda(monkeypatch, supported, expected):
    cpu(monkeypatch)  # the CPU's answer must not leak into the GPU's
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: supported)
    assert auto_dtype("cuda") == auto_dtype("cuda:0") == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert auto_dtype("auto") == auto_dtype(None) == expected


def test_auto_device_without_cuda_is_the_cpu(monkeypatch):
    cpu(monkeypatch, avx512_bf16=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert auto_dtype("auto") == auto_dtype(None) == "bfloat16"


def test_bad_values_name_the_allowed_ones(monkeypatch):
    cpu(monkeypatch, avx512_bf16=True)
    assert [check_dtype(d) for d in (None, "auto", "float32", "bfloat16")] == \
        [None, "auto", "float32", "bfloat16"]
    assert resolve_dtype("auto", "cpu") == "bfloat16" and resolve_dtype(None, "cpu") is None
    assert resolve_dtype("float32", "cpu") == "float32"
    for bad in ("float16", "fp32", "Auto", ""):
        with pytest.raises(ValueError, match="auto, float32, bfloat16"):
            check_dtype(bad)
    with pytest.raises(ValueError, match="auto, float32, bfloat16"):
        ScorerSpec("gemma3-270m", dtype="half")
    with pytest.raises(ValueError, match="auto, float32, bfloat16"):
        Despinner.from_pretrained(dtype="half")
    with pytest.raises(ValueError, match="auto, float32, bfloat16"):
        Despinner(DEFAULT_SOURCES, [], dtype="float16")


def test_shipped_searcher_is_auto():
    """The Gemma scorer of the shipped default's accurate profile picks its dtype."""
    cfg = json.loads((SEARCH_PATH / "despin.json").read_text())
    assert [s["dtype"] for s in cfg["scorers"]] == ["auto"]
    searcher = Despinner.from_pretrained(SEARCH_PATH)
    assert [s.dtype for s in searcher.scorer_specs] == ["auto"]


@pytest.fixture()
def loads(monkeypatch):
    """RestorationModel.from_pretrained replaced: records (model, dtype) of each load."""
    from despin.scorer import RestorationModel

    seen = []
    monkeypatch.setattr(RestorationModel, "from_pretrained", classmethod(
        lambda cls, path, device="cpu", dtype=None: (seen.append((path, dtype)), object())[1]))
    return seen


def test_from_pretrained_dtype_overrides_every_scorer(tmp_path, monkeypatch, loads):
    cpu(monkeypatch, avx512_bf16=False)
    specs = [ScorerSpec("lm-a", 0.5, False), ScorerSpec("lm-b", 0.2, False, 0.1, "bfloat16"),
             ScorerSpec("lm-c", 0.1, False, 0.0, "auto")]
    folder = Despinner(DEFAULT_SOURCES, specs).save_pretrained(tmp_path / "m")
    Despinner.from_pretrained(folder, device="cpu").scorers
    assert [d for _, d in loads] == [None, "bfloat16", "float32"]  # the scorers' own; auto here
    for dtype, expected in [("float32", "float32"), ("bfloat16", "bfloat16"),
                            ("auto", "float32")]:
        loads.clear()
        model = Despinner.from_pretrained(folder, device="cpu", dtype=dtype)
        model.scorers
        assert [d for _, d in loads] == [expected] * 3
        assert model.derive().dtype == dtype
        # the override is for this session: the scorers keep (and save) their own
        assert model.scorer_specs == specs
        again = json.loads((model.save_pretrained(tmp_path / dtype) / "despin.json").read_text())
        assert [s.get("dtype") for s in again["scorers"]] == [None, "bfloat16", "auto"]
    cpu(monkeypatch, avx512_bf16=True)
    loads.clear()
    Despinner.from_pretrained(folder, device="cpu", dtype="auto").scorers
    assert [d for _, d in loads] == ["bfloat16"] * 3


def test_restoration_model_resolves_auto(monkeypatch):
    """RestorationModel.from_pretrained takes "auto" itself (and rejects unknown names)."""
    import despin.scorer as scorer_module

    seen = []

    class Net:
        config = SimpleNamespace(pad_token_id=0, is_encoder_decoder=False)

        def to(self, device):
            return self

        def eval(self):
            return self

    tok = SimpleNamespace(pad_token="<pad>", eos_token="</s>", pad_token_id=0)
    monkeypatch.setattr(scorer_module, "load_base_model", lambda name, kind, dtype: (
        seen.append(dtype), (Net(), tok, "decoder-only"))[1])
    for native, expected in [(True, torch.bfloat16), (False, torch.float32)]:
        monkeypatch.setattr(dtypes, "cpu_has_native_bf16", lambda: native)
        scorer_module.RestorationModel.from_pretrained("some-folder", dtype="auto")
        assert seen[-1] == expected
    scorer_module.RestorationModel.from_pretrained("some-folder", dtype=torch.float16)
    assert seen[-1] == torch.float16
    with pytest.raises(ValueError, match="auto, float32, bfloat16"):
        scorer_module.RestorationModel.from_pretrained("some-folder", dtype="float64")


def test_cli_dtype_reaches_from_pretrained(tmp_path, monkeypatch, capsys):
    from despin.cli import main

    seen = []
    monkeypatch.setattr(Despinner, "from_pretrained", classmethod(
        lambda cls, *args, **kwargs: (seen.append(kwargs), Despinner(DEFAULT_SOURCES, []))[1]))
    (tmp_path / "t.txt").write_text("navy know-how\n")
    for flag, expected in [(["--dtype", "float32"], "float32"), (["--dtype", "auto"], "auto"),
                           (["--dtype", "bfloat16"], "bfloat16"), ([], None)]:
        assert main([*flag, "--quiet", str(tmp_path / "t.txt")]) == 0
        assert seen[-1]["dtype"] == expected
    assert capsys.readouterr().out == "navy know-how\n" * 4
    with pytest.raises(SystemExit) as exc:
        main(["--dtype", "float16", str(tmp_path / "t.txt")])
    assert exc.value.code == 2 and "--dtype" in capsys.readouterr().err
