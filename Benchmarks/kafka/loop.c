// The baseline for Benchmarks/kafka/compare.sh: the least a librdkafka program does to
// read a topic, and to move a topic's messages to another topic, with the settings
// Sluice uses (docs/kafka.md): a consumer in a group that never commits on its own
// (enable.auto.commit and enable.auto.offset.store off, auto.offset.reset=earliest), and
// an idempotent producer with acks=all whose values are copied (RD_KAFKA_MSG_F_COPY:
// the consumed message is freed at once). One message at a time through
// rd_kafka_consumer_poll, no parsing, no batching of its own.
//
//   loop BROKERS fill TOPIC PARTITIONS   produce each line of stdin (without its newline)
//                                        to TOPIC, no key, partition by partition in turn;
//                                        prints the count
//   loop BROKERS consume TOPIC GROUP N   read N messages as a new member of GROUP, from
//                                        the beginning; prints "N FIRST LAST" (wall-clock
//                                        times, epoch seconds, of the first and Nth message)
//   loop BROKERS move SRC GROUP DST N [DROP]
//                                        read N messages of SRC and produce each value to
//                                        DST, except those whose value contains the bytes
//                                        DROP (memmem: a byte check, no parsing); waits for
//                                        every delivery report, then commits the offsets
//                                        read; prints "N PRODUCED FIRST LAST" (LAST: the
//                                        last delivery report)
//   loop BROKERS wait TOPIC N            reads TOPIC from the beginning (outside any group)
//                                        until N messages came; prints "FIRST LAST": when
//                                        the first and the Nth came (tansu's high watermarks
//                                        cannot be used: they lag, see compare.sh)
//   loop BROKERS count TOPIC             prints how many messages TOPIC holds (read until
//                                        nothing more comes for 1 s)
//   loop waitpipe BYTES                  reads stdin (a pipe) until BYTES came; prints
//                                        "FIRST LAST LINES": when the first and the last
//                                        came, and how many newlines
#define _GNU_SOURCE 1  // memmem, getline
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "loop: %s: %s\n", k, err);
        exit(1);
    }
}

static rd_kafka_t *client(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) { fprintf(stderr, "loop: %s\n", err); exit(1); }
    return rk;
}

// As Sluice's output: acks=all, idempotent, librdkafka's defaults otherwise.
static long delivered, failed;
static double lastReport;
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk; (void)opaque;
    if (m->err) {
        if (failed++ == 0) fprintf(stderr, "loop: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
    lastReport = now();
}

static rd_kafka_t *producer(const char *brokers, int fast) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", brokers);
    set(conf, "acks", "all");
    set(conf, "enable.idempotence", "true");
    if (fast) set(conf, "linger.ms", "20");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    return client(RD_KAFKA_PRODUCER, conf);
}

static void produce(rd_kafka_t *p, const char *topic, int32_t partition, void *value, size_t len) {
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(value, len),
            RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "loop: produce: %s\n", rd_kafka_err2str(err));
            exit(1);
        }
        rd_kafka_poll(p, 50);
    }
}

static void drain(rd_kafka_t *p) {
    while (rd_kafka_outq_len(p) > 0) rd_kafka_flush(p, 1000);
}

// As Sluice's input: a group member that commits only when told.
static rd_kafka_t *consumer(const char *brokers, const char *group, const char *topic) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", brokers);
    set(conf, "group.id", group);
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.auto.offset.store", "false");
    set(conf, "auto.offset.reset", "earliest");
    // tansu holds a new group's first join for half the session timeout (45 s by
    // default): compare.sh gives Sluice the same setting.
    set(conf, "session.timeout.ms", "6000");
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) { fprintf(stderr, "loop: subscribe: %s\n", rd_kafka_err2str(err)); exit(1); }
    return c;
}

// The next message, or exits on an error that is not end of partition.
static rd_kafka_message_t *next(rd_kafka_t *c) {
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 1000);
        if (!m) continue;
        if (!m->err) return m;
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "loop: consume: %s\n", rd_kafka_message_errstr(m));
            exit(1);
        }
        rd_kafka_message_destroy(m);
    }
}

// A reader of every partition of TOPIC from the beginning, outside any group, that
// fetches as soon as anything is there (fetch.wait.max.ms=10).
static rd_kafka_t *reader(const char *brokers, const char *topic) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", brokers);
    set(conf, "group.id", "loop-reader");
    set(conf, "enable.auto.commit", "false");
    set(conf, "fetch.wait.max.ms", "10");
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_t *t = rd_kafka_topic_new(c, topic, NULL);
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(c, 0, t, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "loop: no metadata for %s\n", topic);
        exit(1);
    }
    int n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(c, list)) { fprintf(stderr, "loop: assign\n"); exit(1); }
    rd_kafka_topic_partition_list_destroy(list);
    return c;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "waitpipe") == 0) {
        long want = atol(argv[2]), got = 0, lines = 0;
        static char buf[1 << 20];
        double first = 0;
        while (got < want) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n <= 0) { fprintf(stderr, "loop: waitpipe: input ended after %ld bytes\n", got); return 1; }
            if (first == 0) first = now();
            for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + n - p))); p++) lines++;
            got += n;
        }
        printf("%.6f %.6f %ld\n", first, now(), lines);
        return 0;
    }
    if (argc < 4) { fprintf(stderr, "usage: see loop.c\n"); return 64; }
    const char *brokers = argv[1], *mode = argv[2], *topic = argv[3];
    if (strcmp(mode, "fill") == 0 && argc == 5) {
        int partitions = atoi(argv[4]);
        rd_kafka_t *p = producer(brokers, 1);
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        long n = 0;
        while ((len = getline(&line, &cap, stdin)) > 0) {
            if (line[len - 1] == '\n') len--;
            produce(p, topic, (int32_t)(n % partitions), line, (size_t)len);
            if (++n % 1000 == 0) rd_kafka_poll(p, 0);
        }
        drain(p);
        rd_kafka_destroy(p);
        if (failed) return 1;
        printf("%ld\n", n);
        return 0;
    }
    if (strcmp(mode, "consume") == 0 && argc == 6) {
        long n = atol(argv[5]);
        rd_kafka_t *c = consumer(brokers, argv[4], topic);
        double first = 0;
        for (long i = 0; i < n; i++) {
            rd_kafka_message_t *m = next(c);
            if (i == 0) first = now();
            rd_kafka_message_destroy(m);
        }
        double last = now();
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        printf("%ld %.6f %.6f\n", n, first, last);
        return 0;
    }
    if (strcmp(mode, "move") == 0 && (argc == 7 || argc == 8)) {
        const char *group = argv[4], *dst = argv[5];
        long n = atol(argv[6]);
        const char *drop = argc == 8 ? argv[7] : NULL;
        size_t dropLen = drop ? strlen(drop) : 0;
        rd_kafka_t *c = consumer(brokers, group, topic);
        rd_kafka_t *p = producer(brokers, 0);
        // The next offset of each partition read, to commit at the end.
        rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(8);
        double first = 0;
        long produced = 0;
        for (long i = 0; i < n; i++) {
            rd_kafka_message_t *m = next(c);
            if (i == 0) first = now();
            if (!drop || !memmem(m->payload, m->len, drop, dropLen)) {
                produce(p, dst, RD_KAFKA_PARTITION_UA, m->payload, m->len);
                produced++;
            }
            rd_kafka_topic_partition_t *o = rd_kafka_topic_partition_list_find(
                offsets, rd_kafka_topic_name(m->rkt), m->partition);
            if (!o) o = rd_kafka_topic_partition_list_add(offsets, rd_kafka_topic_name(m->rkt), m->partition);
            o->offset = m->offset + 1;
            rd_kafka_message_destroy(m);
            if (i % 1000 == 0) rd_kafka_poll(p, 0);  // serve delivery reports
        }
        drain(p);
        double last = lastReport;
        if (failed) return 1;
        rd_kafka_resp_err_t err = rd_kafka_commit(c, offsets, 0);
        if (err) { fprintf(stderr, "loop: commit: %s\n", rd_kafka_err2str(err)); return 1; }
        rd_kafka_topic_partition_list_destroy(offsets);
        rd_kafka_destroy(p);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        printf("%ld %ld %.6f %.6f\n", n, produced, first, last);
        return 0;
    }
    if (strcmp(mode, "wait") == 0 && argc == 5) {
        long want = atol(argv[4]), seen = 0;
        rd_kafka_t *c = reader(brokers, topic);
        double first = 0;
        while (seen < want) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
            if (!m) continue;
            if (!m->err && seen++ == 0) first = now();
            rd_kafka_message_destroy(m);
        }
        printf("%.6f %.6f\n", first, now());
        return 0;
    }
    if (strcmp(mode, "count") == 0 && argc == 4) {
        // Until nothing more comes for a second (tansu never reports a partition's end:
        // its high watermarks lag); for a topic nothing writes to any more.
        rd_kafka_t *c = reader(brokers, topic);
        long seen = 0;
        rd_kafka_message_t *m;
        while ((m = rd_kafka_consumer_poll(c, 1000))) {
            if (!m->err) seen++;
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "loop: count: %s\n", rd_kafka_message_errstr(m));
                return 1;
            }
            rd_kafka_message_destroy(m);
        }
        printf("%ld\n", seen);
        return 0;
    }
    fprintf(stderr, "usage: see loop.c\n");
    return 64;
}
