// librdkafka (Debian's librdkafka-dev), behind Sluice's own Swift layer in SluiceKafka.
#include <librdkafka/rdkafka.h>

/// rd_kafka_producev is variadic, which Swift cannot call: one message to `topic` (by
/// name), its value copied, with an optional key, headers (taken over on success) and
/// per-message opaque for the delivery report.
static inline rd_kafka_resp_err_t sluice_rd_kafka_produce(
    rd_kafka_t *rk, const char *topic, const void *value, size_t len, const void *key, size_t keylen,
    rd_kafka_headers_t *headers, void *opaque) {
    return rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_KEY(key, keylen), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}
