import SystemPackage

/// Errors of the `tributary` command itself (the engine's are `LogError`).
/// Each says what went wrong and what to do about it.
enum CommandFailure: Error, CustomStringConvertible {
    case unknownTopic(String, directory: String, existing: [String])
    /// An `append` input line that is not a reading; `appended` readings from
    /// the lines before it were appended and are durable.
    case malformedLine(number: Int, problem: String, appended: Int)
    case partitionCountMismatch(topic: String, existing: Int, requested: Int)
    case cannotCreateDirectory(String, errno: Errno)
    case metricsDisabled(path: String)

    var description: String {
        switch self {
        case let .unknownTopic(topic, directory, existing):
            let known = existing.isEmpty ? "it has no topics" : "its topics are " + existing.joined(separator: ", ")
            return "no topic \(topic) in \(directory) (\(known))"
        case let .malformedLine(number, problem, appended):
            let kept = appended == 0 ? "nothing was appended"
                : "the \(appended) readings before it were appended and are durable; "
                    + "continue from this line, for example with tail -n +\(number)"
            return "line \(number): \(problem) (\(kept))"
        case let .partitionCountMismatch(topic, existing, requested):
            return "topic \(topic) already has \(existing) partitions, not \(requested); "
                + "leave out --partitions to append to the existing ones"
        case let .cannotCreateDirectory(path, errno):
            return "cannot create the directory \(path) (\(errno)); give another with --data"
        case let .metricsDisabled(path):
            return "[metrics] is disabled in \(path), so the daemon serves no status; enable it, "
                + "or give --address"
        }
    }
}
