#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* rd_kafka_producev is variadic, which Swift cannot call: one record to a
   topic handle, its partition chosen by the partitioner from its key (NULL:
   none), its value copied, with a timestamp (ms), headers (owned by
   librdkafka once accepted) and an opaque for its delivery report. */
static inline rd_kafka_resp_err_t tributary_kafka_produce(
    rd_kafka_t *rk, rd_kafka_topic_t *rkt, const void *key, size_t key_size, const void *value,
    size_t value_size, int64_t timestamp, rd_kafka_headers_t *headers, void *opaque) {
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_size),
                             RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_TIMESTAMP(timestamp),
                             RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}
