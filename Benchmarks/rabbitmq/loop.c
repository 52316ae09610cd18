// The baseline for Benchmarks/rabbitmq/compare.sh: the least a librabbitmq program does
// to move messages from a queue to an exchange safely, with the same settings as Sluice
// (prefetch, persistent publishes with confirms tracked by delivery tag, acks in
// batches with `multiple` once the messages' publishes are confirmed).
//
//   loop PORT fill QUEUE N          publish N JSON messages to QUEUE (confirmed)
//   loop PORT count QUEUE           print how many messages QUEUE holds
//   loop PORT setup QUEUE EXCHANGE  declare QUEUE, a fanout EXCHANGE bound to QUEUE-out
//                                   (all durable), and empty both queues
//   loop PORT move QUEUE EXCHANGE N PREFETCH   consume N, publish each to EXCHANGE
//                                   (two connections, as Sluice's input and output have:
//                                   confirms and deliveries do not share one)
//   loop PORT drain QUEUE N PREFETCH  consume N and ack them half a window at a time,
//                                   publishing nothing: the broker's consume ceiling
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, amqp_rpc_reply_t r) {
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return;
    fprintf(stderr, "loop: %s failed (reply type %d)\n", what, r.reply_type);
    exit(1);
}

static amqp_connection_state_t connect_to(int port) {
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (amqp_socket_open(s, "127.0.0.1", port) != AMQP_STATUS_OK) { fprintf(stderr, "loop: connect\n"); exit(1); }
    die("login", amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"));
    amqp_channel_open(c, 1);
    die("channel", amqp_get_rpc_reply(c));
    return c;
}

// Reads confirms until every tag up to `last` is confirmed.
static void wait_confirms(amqp_connection_state_t c, uint64_t *confirmed, uint64_t last) {
    while (*confirmed < last) {
        amqp_frame_t f;
        if (amqp_simple_wait_frame(c, &f) != AMQP_STATUS_OK) { fprintf(stderr, "loop: frame\n"); exit(1); }
        if (f.frame_type != AMQP_FRAME_METHOD) continue;
        if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *a = f.payload.method.decoded;
            // Out of order confirms are possible in general; with one channel and
            // `multiple` the highest tag seen is what the loop needs.
            if (a->delivery_tag > *confirmed) *confirmed = a->delivery_tag;
        } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            fprintf(stderr, "loop: nack\n");
            exit(1);
        }
    }
}

static void publish(amqp_connection_state_t c, const char *exchange, const char *key, amqp_bytes_t body) {
    amqp_basic_properties_t p;
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    p.delivery_mode = 2;
    p.content_type = amqp_cstring_bytes("application/json");
    if (amqp_basic_publish(c, 1, amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), 0, 0, &p, body) != 0) {
        fprintf(stderr, "loop: publish\n");
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: see loop.c\n"); return 64; }
    int port = atoi(argv[1]);
    const char *mode = argv[2];
    const char *queue = argv[3];
    amqp_connection_state_t c = connect_to(port);
    if (strcmp(mode, "count") == 0) {
        amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
        die("count", amqp_get_rpc_reply(c));
        printf("%u\n", ok->message_count);
        return 0;
    }
    if (strcmp(mode, "setup") == 0 && argc == 5) {
        char out[256];
        snprintf(out, sizeof out, "%s-out", queue);
        amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, amqp_empty_table);
        die("declare", amqp_get_rpc_reply(c));
        amqp_exchange_declare(c, 1, amqp_cstring_bytes(argv[4]), amqp_cstring_bytes("fanout"), 0, 1, 0, 0, amqp_empty_table);
        die("declare", amqp_get_rpc_reply(c));
        amqp_queue_declare(c, 1, amqp_cstring_bytes(out), 0, 1, 0, 0, amqp_empty_table);
        die("declare", amqp_get_rpc_reply(c));
        amqp_queue_bind(c, 1, amqp_cstring_bytes(out), amqp_cstring_bytes(argv[4]), amqp_cstring_bytes(""), amqp_empty_table);
        die("bind", amqp_get_rpc_reply(c));
        amqp_queue_purge(c, 1, amqp_cstring_bytes(queue));
        amqp_queue_purge(c, 1, amqp_cstring_bytes(out));
        die("purge", amqp_get_rpc_reply(c));
        return 0;
    }
    amqp_confirm_select(c, 1);
    die("confirm.select", amqp_get_rpc_reply(c));
    uint64_t confirmed = 0;
    if (strcmp(mode, "fill") == 0 && argc == 5) {
        long n = atol(argv[4]);
        char buf[256];
        for (long i = 0; i < n; i++) {
            int len = snprintf(buf, sizeof buf,
                "{\"id\":\"o%ld\",\"user\":\"u%ld\",\"country\":\"DE\",\"total\":%ld.5,\"status\":\"created\"}", i, i % 1000, i % 997);
            publish(c, "", queue, (amqp_bytes_t){(size_t)len, buf});
            if ((i + 1) % 1000 == 0) wait_confirms(c, &confirmed, (uint64_t)(i + 1));
        }
        wait_confirms(c, &confirmed, (uint64_t)n);
        return 0;
    }
    if (strcmp(mode, "move") == 0 && argc == 7) {
        const char *exchange = argv[4];
        long n = atol(argv[5]);
        int prefetch = atoi(argv[6]);
        amqp_connection_state_t p = connect_to(port);
        amqp_confirm_select(p, 1);
        die("confirm.select", amqp_get_rpc_reply(p));
        amqp_basic_qos(c, 1, 0, (uint16_t)prefetch, 0);
        die("qos", amqp_get_rpc_reply(c));
        amqp_basic_consume(c, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
        die("consume", amqp_get_rpc_reply(c));
        uint64_t published = 0, lastDelivery = 0;
        long pending = 0;
        for (long i = 0; i < n; i++) {
            amqp_envelope_t e;
            amqp_maybe_release_buffers(c);
            die("consume", amqp_consume_message(c, &e, NULL, 0));
            publish(p, exchange, "bench", e.message.body);
            published++;
            lastDelivery = e.delivery_tag;
            amqp_destroy_envelope(&e);
            // Ack half a window at a time, once its publishes are confirmed.
            if (++pending >= prefetch / 2 || i == n - 1) {
                wait_confirms(p, &confirmed, published);
                amqp_basic_ack(c, 1, lastDelivery, 1);
                pending = 0;
            }
        }
        return 0;
    }
    if (strcmp(mode, "drain") == 0 && argc == 6) {
        long n = atol(argv[4]);
        int prefetch = atoi(argv[5]);
        amqp_basic_qos(c, 1, 0, (uint16_t)prefetch, 0);
        die("qos", amqp_get_rpc_reply(c));
        amqp_basic_consume(c, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
        die("consume", amqp_get_rpc_reply(c));
        long pending = 0;
        for (long i = 0; i < n; i++) {
            amqp_envelope_t e;
            amqp_maybe_release_buffers(c);
            die("consume", amqp_consume_message(c, &e, NULL, 0));
            uint64_t tag = e.delivery_tag;
            amqp_destroy_envelope(&e);
            if (++pending >= prefetch / 2 || i == n - 1) {
                amqp_basic_ack(c, 1, tag, 1);
                pending = 0;
            }
        }
        return 0;
    }
    fprintf(stderr, "usage: see loop.c\n");
    return 64;
}
