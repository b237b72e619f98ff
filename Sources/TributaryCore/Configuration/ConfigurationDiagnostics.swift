/// Collects the mistakes found while reading one configuration file, each
/// placed at its line by the file's source map.
final class ConfigurationDiagnostics {
    let file: String
    let sourceMap: ConfigurationSourceMap
    private(set) var errors: [ConfigurationError] = []

    init(file: String, sourceMap: ConfigurationSourceMap) {
        self.file = file
        self.sourceMap = sourceMap
    }

    /// Records that the value at `path` (or the missing key `path`) is wrong.
    func report(_ path: ConfigurationPath, _ message: String) {
        errors.append(ConfigurationError(file: file, line: sourceMap.line(for: path), key: path.description,
                                         message: message))
    }

    /// A path relative to the configuration file's directory made absolute, so
    /// `password_file = "secret"` next to the config works wherever the daemon starts.
    func resolve(_ path: String) -> String {
        guard !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }
}
