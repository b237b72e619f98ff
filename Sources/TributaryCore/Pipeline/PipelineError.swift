/// Errors of the pipeline that moves readings from sources through the log to sinks.
public enum PipelineError: Error, Equatable, CustomStringConvertible {
    /// The system refused to start a thread (`pthread_create`'s error number).
    case threadUnavailable(name: String, errno: Int32)
    /// Readings were sent to a writer that is stopping or stopped.
    case writerStopped(topic: String, partition: Int)
    /// A source sent readings to a topic the log does not have.
    case unknownTopic(String)
    /// A blocking job was submitted to a worker thread that is stopping.
    case workerStopped(name: String)
    /// A sink released a delivery without reporting its outcome (a sink's bug);
    /// its readings are sent again.
    case deliveryDropped

    public var description: String {
        switch self {
        case let .threadUnavailable(name, errno):
            return "could not start thread \(name) (error \(errno)); the system is out of threads or memory"
        case let .writerStopped(topic, partition):
            return "the writer of \(topic)-\(partition) is stopping; the readings were not accepted"
        case let .unknownTopic(topic):
            return "no topic \(topic) in the log; declare it under [topics] in the configuration"
        case let .workerStopped(name):
            return "the worker thread \(name) is stopping; the job was not run"
        case .deliveryDropped:
            return "the sink released a delivery without acknowledging or failing it; it is sent again"
        }
    }
}
