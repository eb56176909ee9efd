# `make serve` and `make test` do all the set-up on a fresh machine: a virtual environment in
# .venv with every dependency pinned, the generated gRPC code, then the server or the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Qwen3-TTS pins transformers 4.57.3 (Dia needs 5.x): its runtime is tested in an environment of
# its own, as it is deployed (Dockerfile.rocm, target strix-halo).
QWEN3_BIN := .venv-qwen3/bin
# The F5 runtime is Cantata's own implementation; the reference environment has the f5-tts and
# vocos packages (which drag in torchaudio and a training stack) to check it against them.
F5REF_BIN := .venv-f5ref/bin
STAMPS := .stamps
# The clients in other languages: each folder's build.sh installs its toolchain if missing,
# generates its code from protos/ and leaves its example as build/clients/say-<language>.
CLIENTS := $(patsubst clients/%/build.sh,%,$(wildcard clients/*/build.sh))
SOURCES_OF_INSTALL := pyproject.toml clients/python/pyproject.toml clients/python/setup.py \
	$(wildcard protos/cantata/tts/v1/*.proto) $(shell find clients/python/src/cantata_client -name '*.py' 2>/dev/null)

.PHONY: serve test lint check-types check-proto unit bench clean clients

serve: $(STAMPS)/install
	$(BIN)/cantata serve $(ARGS)

test: $(STAMPS)/install-test $(STAMPS)/install-qwen3 $(STAMPS)/install-f5ref lint clients
	$(BIN)/pytest --ignore=tests/qwen3_split --ignore=tests/f5_reference $(PYTEST_ARGS)
	$(QWEN3_BIN)/pytest tests/qwen3_split tests/contract $(PYTEST_ARGS)
	PYTHONPATH=tests/standins $(F5REF_BIN)/pytest tests/f5_reference $(PYTEST_ARGS)

lint: $(STAMPS)/install-test check-proto
	$(BIN)/ruff check server runtimes clients/python tests bench
	$(BIN)/ruff format --check server runtimes clients/python tests bench
	$(BIN)/mypy server runtimes clients/python/src/cantata_client tests bench

clients: $(STAMPS)/install-test
	@for client in $(CLIENTS); do \
		echo "building the $$client client"; bash clients/$$client/build.sh || exit 1; \
	done

# Once a release is tagged (v*), the contract may only change compatibly with it.
check-proto: $(STAMPS)/install-test
	$(BIN)/buf lint protos
	$(BIN)/buf format --diff --exit-code protos
	@release=$$(git describe --tags --abbrev=0 --match 'v*' 2>/dev/null); \
	if [ -n "$$release" ]; then \
		echo "buf breaking against $$release"; \
		$(BIN)/buf breaking protos --against ".git#tag=$$release,subdir=protos"; \
	else echo "buf breaking: no release tag yet, nothing to compare against"; fi

bench: $(STAMPS)/install-test
	$(BIN)/python -m bench.run_all

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==26.3

$(STAMPS)/install: $(BIN)/python $(SOURCES_OF_INSTALL)
	$(BIN)/pip install --quiet ./clients/python -e '.[piper]'
	@mkdir -p $(STAMPS) && touch $@

# torch==2.13.0 is the CPU wheel (any other torch pulls a multi-GB CUDA build); the Dia tests
# run on it with tiny models.
$(STAMPS)/install-test: $(STAMPS)/install
	$(BIN)/pip install --quiet torch==2.13.0 -e '.[piper,dia,tensorrt,test]'
	@mkdir -p $(STAMPS) && touch $@

# torch==2.13.0 is the CPU wheel here. qwen-tts goes in without its declared requirements (gradio,
# an unpinned torchaudio); the stand-in covers its one torchaudio import, which the 12 Hz models
# never use.
$(STAMPS)/install-qwen3: $(SOURCES_OF_INSTALL) $(wildcard runtimes/qwen3_split/torchaudio_standin/*.toml)
	$(PYTHON) -m venv .venv-qwen3
	$(QWEN3_BIN)/pip install --quiet pip==26.3
	$(QWEN3_BIN)/pip install --quiet torch==2.13.0 pytest==9.2.0 ./clients/python -e '.[qwen3]'
	$(QWEN3_BIN)/pip install --quiet --no-deps qwen-tts==0.1.1 ./runtimes/qwen3_split/torchaudio_standin
	@mkdir -p $(STAMPS) && touch $@

# f5-tts and vocos go in without their declared requirements (gradio, wandb, datasets, an unpinned
# torchaudio): the torchaudio stand-in covers their import-time references, and tests/standins
# (on PYTHONPATH for that run only) covers f5-tts's training imports.
$(STAMPS)/install-f5ref: $(SOURCES_OF_INSTALL) $(wildcard runtimes/qwen3_split/torchaudio_standin/*.toml)
	$(PYTHON) -m venv .venv-f5ref
	$(F5REF_BIN)/pip install --quiet pip==26.3
	$(F5REF_BIN)/pip install --quiet torch==2.13.0 pytest==9.2.0 ./clients/python -e '.[tensorrt]' \
		einops==0.8.1 huggingface_hub==1.33.0 scipy==1.17.1 x-transformers==2.31.10 \
		torchdiffeq==0.2.5 ema-pytorch==0.7.7 accelerate==1.12.0 librosa==0.11.0
	$(F5REF_BIN)/pip install --quiet --no-deps f5-tts==1.1.22 vocos==0.1.0 encodec==0.1.1 \
		./runtimes/qwen3_split/torchaudio_standin
	@mkdir -p $(STAMPS) && touch $@

clean:
	rm -rf $(VENV) .venv-qwen3 .venv-f5ref $(STAMPS) clients/python/src/cantata clients/python/build build
