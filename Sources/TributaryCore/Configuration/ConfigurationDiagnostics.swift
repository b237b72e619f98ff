/// Collects the mistakes found while reading one configuration file, each
/// placed at its line by the file's source map, or by a profile's when the
/// key came from a profile.
final class ConfigurationDiagnostics {
    let file: String
    let sourceMap: ConfigurationSourceMap
    private(set) var errors: [ConfigurationError] = []
    private var inclusions: [Inclusion] = []

    /// Keys a profile brought into a table, and where the profile wrote them.
    private struct Inclusion {
        var table: ConfigurationPath
        var keys: Set<String>
        var file: String
        var sourceMap: ConfigurationSourceMap

        /// `path` relative to the profile's root when the profile wrote it.
        func relative(_ path: ConfigurationPath) -> ConfigurationPath? {
            let depth = table.components.count
            guard path.components.count > depth, Array(path.components[..<depth]) == table.components,
                  case let .key(key) = path.components[depth], keys.contains(key) else { return nil }
            return ConfigurationPath(Array(path.components[depth...]))
        }
    }

    init(file: String, sourceMap: ConfigurationSourceMap) {
        self.file = file
        self.sourceMap = sourceMap
    }

    /// Records that the value at `path` (or the missing key `path`) is wrong.
    func report(_ path: ConfigurationPath, _ message: String) {
        for inclusion in inclusions {
            guard let relative = inclusion.relative(path) else { continue }
            errors.append(ConfigurationError(file: inclusion.file, line: inclusion.sourceMap.line(for: relative),
                                             key: path.description, message: message))
            return
        }
        errors.append(ConfigurationError(file: file, line: sourceMap.line(for: path), key: path.description,
                                         message: message))
    }

    /// Records a mistake found elsewhere (a profile that is not TOML).
    func record(_ error: ConfigurationError) { errors.append(error) }

    /// Notes that `keys` of the table at `table` came from the profile `file`.
    func include(_ keys: Set<String>, into table: ConfigurationPath, file: String, sourceMap: ConfigurationSourceMap) {
        inclusions.append(Inclusion(table: table, keys: keys, file: file, sourceMap: sourceMap))
    }

    /// A path relative to the configuration file's directory made absolute, so
    /// `password_file = "secret"` next to the config works wherever the daemon starts.
    func resolve(_ path: String) -> String {
        guard !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }
}
