#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Expands `profile = "NAME"` in the tables of a configuration: the keys of a
/// profile file (the register map of an energy meter, the settings of an NMEA
/// GPS) are copied into the table that names it, beneath the table's own keys,
/// which win. A bare name is looked for as `NAME.toml` in each directory in
/// turn; a name with a `/` or ending in `.toml` is a file, relative to the
/// configuration's directory. Profiles do not name other profiles.
struct ConfigurationProfiles {
    /// Where bare names are looked for: `profiles/` beside the configuration,
    /// then the profiles the package installs.
    static func defaultDirectories(configurationFile file: String) -> [String] {
        let directory = file.lastIndex(of: "/").map { String(file[..<$0]) } ?? "."
        return [directory + "/profiles", "/usr/share/tributary/profiles"]
    }

    let directories: [String]
    let diagnostics: ConfigurationDiagnostics
    /// Profiles already read, by file, so a profile several devices name is read once.
    private var loaded: [String: (entries: [String: ConfigurationNode], sourceMap: ConfigurationSourceMap)?] = [:]

    init(directories: [String], diagnostics: ConfigurationDiagnostics) {
        self.directories = directories
        self.diagnostics = diagnostics
    }

    /// The document with every profile its tables name copied in (the root itself names none).
    mutating func expand(_ root: [String: ConfigurationNode]) -> [String: ConfigurationNode] {
        var expanded: [String: ConfigurationNode] = [:]
        for (key, node) in root { expanded[key] = expand(node, at: ConfigurationPath([.key(key)]), inProfile: false) }
        return expanded
    }

    private mutating func expand(_ node: ConfigurationNode, at path: ConfigurationPath, inProfile: Bool) -> ConfigurationNode {
        switch node {
        case let .table(entries): return .table(expand(entries, at: path, inProfile: inProfile))
        case let .array(elements):
            return .array(elements.enumerated().map { expand($1, at: path.appending(index: $0), inProfile: inProfile) })
        default: return node
        }
    }

    private mutating func expand(_ table: [String: ConfigurationNode], at path: ConfigurationPath,
                                 inProfile: Bool) -> [String: ConfigurationNode] {
        var entries = table
        var included: Set<String> = []
        if let name = entries.removeValue(forKey: "profile") {
            if inProfile {
                diagnostics.report(path.appending("profile"), "a profile cannot name another profile")
            } else if let profile = load(name, at: path.appending("profile")) {
                for (key, node) in profile.entries where entries[key] == nil {
                    entries[key] = node
                    included.insert(key)
                }
                diagnostics.include(included, into: path, file: profile.file, sourceMap: profile.sourceMap)
                if entries.removeValue(forKey: "profile") != nil {
                    diagnostics.report(path.appending("profile"), "a profile cannot name another profile")
                }
            }
        }
        for (key, node) in entries {
            entries[key] = expand(node, at: path.appending(key), inProfile: inProfile || included.contains(key))
        }
        return entries
    }

    private mutating func load(_ name: ConfigurationNode, at path: ConfigurationPath)
        -> (file: String, entries: [String: ConfigurationNode], sourceMap: ConfigurationSourceMap)? {
        guard case let .string(name) = name, !name.isEmpty else {
            diagnostics.report(path, "expected the name of a profile like \"eastron-sdm120\" or a file, found \(name.shown)")
            return nil
        }
        guard let file = find(name) else {
            diagnostics.report(path, "no profile \"\(name)\": looked for \(name).toml in "
                                   + directories.joined(separator: " and "))
            return nil
        }
        if let cached = loaded[file] { return cached.map { (file, $0.entries, $0.sourceMap) } }
        let profile = parse(file, at: path)
        loaded[file] = .some(profile)
        return profile.map { (file, $0.entries, $0.sourceMap) }
    }

    private func find(_ name: String) -> String? {
        if name.contains("/") || name.hasSuffix(".toml") { return diagnostics.resolve(name) }
        let candidates = directories.map { $0 + "/" + name + ".toml" }
        return candidates.first { access($0, F_OK) == 0 }
    }

    private func parse(_ file: String, at path: ConfigurationPath)
        -> (entries: [String: ConfigurationNode], sourceMap: ConfigurationSourceMap)? {
        let text: String
        do {
            text = try TextFile.read(file)
        } catch {
            diagnostics.report(path, "cannot read the profile \(file): \(error)")
            return nil
        }
        do {
            return try TOMLReader.read(text)
        } catch {
            diagnostics.record(error.configurationError(file: file))
            return nil
        }
    }
}
