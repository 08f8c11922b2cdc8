# ATA firmware: every target sets up the pinned environment first.
VENV := .venv
PY := $(VENV)/bin/python
ATA := $(VENV)/bin/ata

.PHONY: setup test demo sim bench build check clean

setup:
	@tools/setup.sh

test: setup
	@tools/run-tests.sh

demo: setup
	$(ATA) demo

sim: setup
	$(ATA) sim --config $(or $(CONFIG),examples/sim.json)

bench: setup
	$(ATA) bench
	$(PY) -m ata.soak --calls 200 --batch 50
	ATA_OTA_POWERCUTS=50 ATA_OTA_POWERCUT_REPORT=build/bench-ota-powercut.txt \
		$(PY) -m pytest -q -s -p no:cacheprovider tests/test_ota_powercut.py

build: setup
	$(ATA) build

check: setup
	$(ATA) build --check

clean:
	rm -rf build .pytest_cache
