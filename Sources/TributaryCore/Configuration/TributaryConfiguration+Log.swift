import TributaryLog

extension TributaryConfiguration {
    /// The log settings as `TributaryLog` takes them: `[log]` gives the
    /// defaults, each `[topics.NAME]` its partitions and overrides.
    public func logConfiguration() -> LogConfiguration {
        var configuration = LogConfiguration(directory: log.directory)
        configuration.segmentBytes = log.segmentBytes
        configuration.segmentMilliseconds = log.segmentMilliseconds
        configuration.flush = log.flush
        configuration.diskBudget = log.diskBudget
        configuration.defaultTopic = TopicConfiguration(
            partitions: 1, retentionMilliseconds: log.retentionMilliseconds, retentionBytes: log.retentionBytes,
            fullPolicy: log.fullPolicy)
        for (name, topic) in topics {
            configuration.topics[name] = TopicConfiguration(
                partitions: topic.partitions,
                retentionMilliseconds: topic.retentionMilliseconds ?? log.retentionMilliseconds,
                retentionBytes: topic.retentionBytes ?? log.retentionBytes,
                fullPolicy: topic.fullPolicy ?? log.fullPolicy)
        }
        return configuration
    }
}
