import CRdKafka
import Dispatch
import SluiceCore

extension KafkaConsumer {
    /// How far behind the end of each partition assigned now the consumer is: the
    /// partition's high watermark as librdkafka last saw it (it comes with every fetch
    /// response, so no request goes to the broker) minus the next offset to read.
    ///
    /// A partition is left out while either is unknown: before the first fetch response,
    /// or before the first message of a non-empty partition was consumed (an empty
    /// partition, high watermark 0, is 0 behind). Call it from the polling thread.
    func lag() -> [RunMetrics.PartitionLag] {
        var assigned: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(rk, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR, let list = assigned else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        guard list.pointee.cnt > 0, rd_kafka_position(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [] }
        var out: [RunMetrics.PartitionLag] = []
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems + i
            guard let topic = e.pointee.topic else { continue }
            var low: Int64 = 0
            var high: Int64 = 0
            let err = rd_kafka_get_watermark_offsets(rk, topic, e.pointee.partition, &low, &high)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { continue }
            let next = e.pointee.offset
            let behind: Int64
            if e.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR && next >= 0 {
                behind = max(0, high - next)
            } else if high == 0 {
                behind = 0
            } else {
                continue
            }
            out.append(
                RunMetrics.PartitionLag(
                    topic: String(cString: topic), partition: e.pointee.partition, messages: Int(behind)))
        }
        return out
    }
}

extension KafkaSource {
    /// How often the input reports its consumer lag, at most (1 s).
    static let lagInterval: UInt64 = 1_000_000_000

    /// With `--metrics`: reports each assigned partition's consumer lag
    /// (`sluice_consumer_lag`) when the last report is older than ``lagInterval``
    /// (`last`: when that was, in uptime nanoseconds; 0 before the first). One clock read
    /// per poll otherwise.
    ///
    /// The first report goes out as soon as some partition's lag is known, not a second
    /// after an empty one: an input whose first batches fill the rings waits in `emit`
    /// from then on, and would otherwise report nothing while it waits.
    func reportLag(_ consumer: KafkaConsumer, _ out: SourceOutput, last: inout UInt64) {
        guard out.measuresConsumerLag else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard last == 0 || now &- last >= Self.lagInterval else { return }
        let partitions = consumer.lag()
        if partitions.isEmpty && last == 0 { return }
        last = now
        out.consumerLag(partitions)
    }
}
