# pooler/batch.mk -- private build of the batch-insert rewriting modules
# (batch_sql.c, batch.c) and their Check tests, until they are wired into
# pooler/Makefile.  Included by nothing; run from the repository root:
#
#     make -f pooler/batch.mk check
#
# Needs: libpg-query-dev (libpg_query), libprotobuf-c-dev (the protobuf-c
# header that pg_query.pb-c.h includes; the code lives in libpg_query),
# check, and common/ built (this file builds it).
#
# Since the wiring, pooler/Makefile builds batch*.c into the pooler and runs
# pooler/tests/check_batch*.c with the other unit tests; this file remains
# for the test relay (pooler/tests/batch/batch_proxy.c).

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wmissing-prototypes
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -Icommon -Ipooler
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
PGQ_LIBS     = -lpg_query

B = pooler/build/batch
BATCH_OBJS = $(B)/batch_sql.o $(B)/batch.o
COMMON_LIB = common/build/libpgplumb_common.a
BATCH_TESTS = $(B)/check_batch_sql $(B)/check_batch

all: $(BATCH_OBJS) $(B)/batch_proxy

$(B):
	mkdir -p $(B)

$(COMMON_LIB): FORCE
	$(MAKE) -C common build/libpgplumb_common.a

$(B)/%.o: pooler/%.c pooler/batch_sql.h pooler/batch.h common/proto.h | $(B)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/check_%: pooler/tests/check_%.c $(BATCH_OBJS) $(COMMON_LIB) | $(B)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -o $@ $< $(BATCH_OBJS) $(COMMON_LIB) \
		$(PGQ_LIBS) $(CHECK_LIBS) -lm

# Test relay that drives batch.c over real sockets (regress/pooler/t_batch_*,
# bench/batch_inserts.sh) until the rewriter is wired into pgplumb-pooler.
$(B)/batch_proxy: pooler/tests/batch/batch_proxy.c $(BATCH_OBJS) $(COMMON_LIB) | $(B)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BATCH_OBJS) $(COMMON_LIB) $(PGQ_LIBS)

check: $(BATCH_TESTS)
	@rc=0; for t in $(BATCH_TESTS); do echo "== $$t"; ./$$t || rc=1; done; exit $$rc

clean:
	rm -rf $(B)

FORCE:
.PHONY: all check clean FORCE
