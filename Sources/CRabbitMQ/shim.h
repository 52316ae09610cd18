#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

// amqp_login is variadic, which Swift cannot call: PLAIN login with a user and password.
static inline amqp_rpc_reply_t sluice_amqp_login_plain(
    amqp_connection_state_t conn, const char *vhost, int frame_max, const char *user, const char *password) {
    return amqp_login(conn, vhost, 0, frame_max, 0, AMQP_SASL_METHOD_PLAIN, user, password);
}

// Waits up to `timeout_ms` for a delivery (0: only what is buffered).
static inline amqp_rpc_reply_t sluice_amqp_consume(
    amqp_connection_state_t conn, amqp_envelope_t *envelope, int timeout_ms) {
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return amqp_consume_message(conn, envelope, &tv, 0);
}

// Waits up to `timeout_ms` for a frame (-1: without limit).
static inline int sluice_amqp_wait_frame(amqp_connection_state_t conn, amqp_frame_t *frame, int timeout_ms) {
    if (timeout_ms < 0) return amqp_simple_wait_frame(conn, frame);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return amqp_simple_wait_frame_noblock(conn, frame, &tv);
}
