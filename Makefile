# t2sql -- build, set-up and test entry points.
#   make            build everything into build/ and bin/
#   make demo       deps + build + local stack + demo data + example request
#   make test       deps + build + unit, integration and corpus tests; last line "N passed, N failed"
#   make bench      ratios against the physical limits (bench/README.md)
#   make soak       minutes of mixed load; 5xx, latencies, RSS and descriptors (bench/soak.sh)
#   make SAN=address,undefined   sanitizer build into build-san/ and bin-san/

CC      ?= cc
SAN     ?=
OPT     ?= -O2
PKGS    := libpq json-c hiredis libcurl libxml-2.0 libcrypto zlib libjwt
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Wwrite-strings -Wvla -Wformat=2 -Wundef \
           -Wno-format-nonliteral -Wimplicit-fallthrough
CFLAGS  := -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -fno-strict-aliasing \
           -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -Icore \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := /usr/lib/x86_64-linux-gnu/libpg_query.a \
           $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lstemmer -lfcgi -lm -lpthread
LDFLAGS := -pie -Wl,-z,relro,-z,now
B       ?= build
BIN     ?= bin
ifneq ($(SAN),)
CFLAGS  += -fsanitize=$(SAN) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SAN)
B       := build-san
BIN     := bin-san
endif

CORE_SRC  := $(wildcard core/*.c)
CORE_OBJ  := $(CORE_SRC:%.c=$(B)/%.o) $(B)/gen/schema_sql.o
FCGI_SRC  := $(wildcard fcgi/*.c)
FCGI_OBJ  := $(FCGI_SRC:%.c=$(B)/%.o)
EXD_SRC   := $(wildcard exportd/*.c)
EXD_OBJ   := $(EXD_SRC:%.c=$(B)/%.o)
TOOL_SRC  := $(wildcard tools/*.c)
TOOL_BIN  := $(TOOL_SRC:tools/%.c=$(BIN)/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
BINS      := $(BIN)/t2sql-fcgi $(if $(EXD_SRC),$(BIN)/exportd) $(TOOL_BIN)

.PHONY: all deps demo stop test unit bench soak fuzz format format-check clean distclean
# objects made on the way (tools, unit tests) are kept, not removed at the end of every run
.SECONDARY:
all: $(BINS) $(UNIT_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/gen/schema_sql.c: conf/schema.sql scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh migrate_schema_sql $< > $@

$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(CFLAGS) -Wno-missing-variable-declarations -c -o $@ $<

$(B)/libt2sql.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/t2sql-fcgi: $(FCGI_OBJ) $(B)/libt2sql.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/exportd: $(EXD_OBJ) $(B)/libt2sql.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/%: $(B)/tools/%.o $(B)/libt2sql.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libt2sql.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

deps:
	@scripts/deps.sh

unit: $(UNIT_BIN)
	@scripts/unit.sh $(UNIT_BIN)

# the install and build output goes to var/demo/log/build.log; the terminal gets a summary
demo:
	@mkdir -p var/demo/log
	@{ scripts/deps.sh && $(MAKE) --no-print-directory all; } >var/demo/log/build.log 2>&1 || \
	  { tail -n 20 var/demo/log/build.log; echo "make demo: the build failed (var/demo/log/build.log)"; exit 1; }
	@scripts/stack.sh demo

stop:
	@scripts/stack.sh stop

test: deps
	@$(MAKE) --no-print-directory all
	@scripts/test.sh

bench: deps all
	@scripts/bench.sh

# sustained mixed load on the bench stack (SOAK_SECONDS=600 SOAK_CONNS=64): bench/soak.sh
soak: deps all
	@BENCH=soak scripts/bench.sh

fuzz: deps
	@scripts/fuzz.sh $${FUZZ_SECONDS:-60}

compile_commands.json:
	$(MAKE) clean && bear -- $(MAKE) all

FORMAT_SRC = $(wildcard core/*.[ch] fcgi/*.[ch] exportd/*.[ch] tools/*.c tests/unit/*.c tests/fuzz/*.c)

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	clang-format --dry-run -Werror $(FORMAT_SRC)

clean:
	rm -rf build build-san bin bin-san

distclean: clean
	rm -rf var

-include $(CORE_OBJ:.o=.d) $(FCGI_OBJ:.o=.d) $(EXD_OBJ:.o=.d) $(TOOL_SRC:tools/%.c=$(B)/tools/%.d) $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%.d)
