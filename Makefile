# Coinbase ticker -> Kafka -> exactly-once event-time windows in SQLite -> output.csv
#
#   make            build bin/producer, bin/aggregator and the test helpers
#   make deps       install the Debian packages that are missing (every target does first)
#   make test       build with ASan/UBSan into build/san and run every test
#   make bench      benchmarks (see tests/bench.sh, then tests/bench-group.sh; BENCH_GROUP=0 skips it)
#   make bench-peers  the same data through the Spark lab, Quix Streams and ours
#   make demo       the whole pipeline on kafka-mock (embedded, nothing to download) and the local feed
#   make run        the live job: the real feed -> $KAFKA_BROKERS, or a local Apache Kafka (scripts/kafka)
#   make replay     a recorded file (FILE, the fixture) at SPEED (30) through the live job's path:
#                   local feed -> producer -> a local Apache Kafka -> aggregator -> demo/replay/
#   make fuzz       libFuzzer on the tick parser for FUZZ_SECONDS (60)
#   make clean

VERSION  := 0.1.0
CC       ?= cc
PKGS     := rdkafka libwebsockets jansson sqlite3
OPT      ?= -O2
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -DPIPELINE_VERSION='"$(VERSION)"' \
               -Wall -Wextra -Werror -Wno-format-truncation -g $(OPT)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Build flavour: release into bin/ (objects in build/rel), sanitized into build/san
# with the test hooks (AGG_TEST_HOOKS: the crash points of tests/t/47).
ifeq ($(SAN),1)
  OBJDIR := build/san/obj
  BINDIR := build/san/bin
  EXTRA  := $(SAN_FLAGS) -DAGG_TEST_HOOKS
else
  OBJDIR := build/rel/obj
  BINDIR := bin
  EXTRA  :=
endif

# pkg-config is asked when the first compile needs it, after `deps` (every
# object waits for it) has installed what was missing; once per make.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS) 2>/dev/null))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS) 2>/dev/null))$(PKG_LIBS)
ALL_CFLAGS  = $(CFLAGS_BASE) $(EXTRA) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(EXTRA) $(LDFLAGS)
LIBS        = $(PKG_LIBS) -lm -lpthread

AGG_SRCS  := $(filter-out aggregator/main.c,$(wildcard aggregator/*.c))
AGG_OBJS  := $(AGG_SRCS:%.c=$(OBJDIR)/%.o) $(OBJDIR)/sql_embed.o $(OBJDIR)/web/aggregator.o $(OBJDIR)/common/tick.o $(OBJDIR)/common/tick_fast.o $(OBJDIR)/common/log.o \
             $(OBJDIR)/common/props.o $(OBJDIR)/common/duration.o \
             $(OBJDIR)/common/metrics.o $(OBJDIR)/common/httpd.o $(OBJDIR)/common/args.o $(OBJDIR)/common/seqrule.o
PROD_OBJS := $(OBJDIR)/web/producer.o $(OBJDIR)/producer/pcli.o $(OBJDIR)/producer/spool.o $(OBJDIR)/producer/kafka.o \
             $(OBJDIR)/producer/spooler.o $(OBJDIR)/producer/ticker.o $(OBJDIR)/producer/report.o $(OBJDIR)/feed/conn.o $(OBJDIR)/feed/wsproto.o $(OBJDIR)/feed/feedtls.o \
             $(OBJDIR)/common/tick.o $(OBJDIR)/common/tick_fast.o $(OBJDIR)/common/log.o $(OBJDIR)/common/props.o \
             $(OBJDIR)/common/duration.o $(OBJDIR)/common/metrics.o $(OBJDIR)/common/httpd.o $(OBJDIR)/common/args.o \
             $(OBJDIR)/common/seqrule.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BINDIR)/unit/%)
TOOLS     := kafka-mock kafka-admin feed-server gen-ticks
BINS      := $(BINDIR)/producer $(BINDIR)/aggregator $(TOOLS:%=$(BINDIR)/%)

.PHONY: all unit test bench bench-peers demo run replay fuzz clean deps
# The tools' objects come from a pattern chain: without this make deletes them
# as intermediates and a second `make` relinks every tool.
.SECONDARY:
all: $(BINS)

# The Debian packages the build and the tests need, installed when missing
# (scripts/install-deps.sh: a quick no-op when everything is there); every
# build target runs it first.
deps:
	@scripts/install-deps.sh
unit: $(UNIT_BINS)

$(OBJDIR)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC) -MMD -MP -c $< -o $@
# Include paths per program: common/ sees only itself, the producer common/,
# feed/ and producer/, the aggregator common/ and aggregator/ (neither
# program can include the other's headers); the tests see everything.
INC := -Icommon
$(OBJDIR)/feed/%.o: INC := -Icommon -Ifeed
$(OBJDIR)/producer.o: INC := -Icommon -Ifeed -Iproducer
$(OBJDIR)/producer/%.o: INC := -Icommon -Ifeed -Iproducer
$(OBJDIR)/aggregator/%.o: INC := -Icommon -Iaggregator
$(OBJDIR)/tests/%.o: INC := -Icommon -Ifeed -Iaggregator -Iproducer

# sql/*.sql are compiled into the aggregator as C strings (queries.sql is
# for people: examples to type into sqlite3).
$(OBJDIR)/sql_embed.c: $(wildcard sql/*.sql) scripts/embed-sql.sh
	@mkdir -p $(dir $@)
	scripts/embed-sql.sh sql/schema.sql sql/views.sql sql/migrate_1_2.sql sql/migrate_2_3.sql sql/migrate_3_4.sql sql/migrate_4_5.sql sql/migrate_5_6.sql sql/statements.sql sql/live.sql > $@
$(OBJDIR)/sql_embed.o: $(OBJDIR)/sql_embed.c | deps
	$(CC) $(ALL_CFLAGS) -Icommon -Iaggregator -c $< -o $@

# web/NAME.html: the live pages, compiled in the same way (docs/live-page.md),
# one object each: web_NAME_html[] for the program that serves it.
$(OBJDIR)/web/%.c: web/%.html scripts/embed-web.sh
	@mkdir -p $(dir $@)
	scripts/embed-web.sh $< > $@
$(OBJDIR)/web/%.o: $(OBJDIR)/web/%.c | deps
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BINDIR)/aggregator: $(OBJDIR)/aggregator/main.o $(AGG_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -o $@
$(BINDIR)/producer: $(OBJDIR)/producer.o $(PROD_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) -lssl -lcrypto -o $@
# Test tools and unit tests: each links what it uses (SSL_LIBS: OpenSSL).
$(BINDIR)/%: $(OBJDIR)/tests/%.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) $(SSL_LIBS) -o $@
$(BINDIR)/feed-server: $(OBJDIR)/tests/testcert.o $(OBJDIR)/common/tick.o $(OBJDIR)/common/tick_fast.o
$(BINDIR)/feed-server: SSL_LIBS := -lssl -lcrypto
$(BINDIR)/unit/%: $(OBJDIR)/tests/unit/%.o $(AGG_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(LIBS) $(SSL_LIBS) -o $@
$(BINDIR)/unit/test_wsproto: $(OBJDIR)/feed/wsproto.o
$(BINDIR)/unit/test_pcli: $(OBJDIR)/producer/pcli.o
$(BINDIR)/unit/test_feedtls: $(OBJDIR)/feed/feedtls.o $(OBJDIR)/tests/testcert.o
$(BINDIR)/unit/test_feedtls $(BINDIR)/unit/test_wsproto: SSL_LIBS := -lssl -lcrypto

# Tests: sanitized build, unit tests and end-to-end shell tests under prove.
test: deps
	$(MAKE) SAN=1 all unit
	$(MAKE) all
	tests/run.sh build/san/bin

bench: deps all
	tests/bench.sh bin
	@if [ "$${BENCH_GROUP:-1}" != 0 ]; then tests/bench-group.sh bin; fi

# The same data through the Spark lab's consumer, a Quix Streams application
# and ours (tests/bench-peers.sh; installs pyspark and quixstreams into a venv
# in ~/.cache/coinbase-windows first). Never part of `make test`.
bench-peers: deps all
	tests/bench-peers.sh bin

demo: deps all
	scripts/demo.sh bin

run: deps all
	scripts/run.sh bin

# make replay [FILE=ticks.jsonl] [SPEED=30] (scripts/run.sh --replay).
replay: deps all
	scripts/run.sh --replay '$(or $(FILE),tests/data/ticks.jsonl)' --speed '$(or $(SPEED),30)' bin

# libFuzzer over the tick parser (clang), bounded by FUZZ_SECONDS; new inputs
# go to build/fuzz-corpus, seeded from the hostile-message corpus.
FUZZ_SECONDS ?= 60
# Seeds: the hostile corpus and 20 fixture ticks (these take the fast path).
fuzz: deps
	@mkdir -p build/fuzz-corpus build/fuzz-seed
	head -n 20 tests/data/ticks.jsonl | split -l 1 - build/fuzz-seed/tick-
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon tests/fuzz_tick.c common/tick.c common/tick_fast.c \
	  -ljansson -o build/fuzz_tick
	build/fuzz_tick -max_total_time=$(FUZZ_SECONDS) -max_len=2048 build/fuzz-corpus tests/data/bad build/fuzz-seed

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
