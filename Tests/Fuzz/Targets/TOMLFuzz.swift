@testable import TributaryCore

/// The configuration's TOML reader on any text: a document or a syntax error,
/// and a document places every key on a line of the text.
enum TOMLFuzz: FuzzTarget {
    static let name = "toml"

    /// Every TOML file of the repository.
    static func seeds() throws -> [[UInt8]] {
        let files = ["packaging/tributary.toml"]
            + ["raspberry-pi-4.toml", "raspberry-pi-5.toml"].map { "hardware/boards/" + $0 }
            + ["eastron-sdm120.toml", "nmea-gps.toml", "ds18b20.toml"].map { "hardware/profiles/" + $0 }
        let texts = files.compactMap { readFile(repositoryRoot + "/" + $0) }
        precondition(texts.count == files.count, "toml: a seed file is missing")
        return texts
    }

    static func check(_ input: [UInt8]) -> Bool {
        let text = String(decoding: input, as: UTF8.self)
        guard let document = try? TOMLReader.read(text) else { return false }
        let lines = input.reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        for (key, _) in document.entries {
            let line = document.sourceMap.line(for: ConfigurationPath([.key(key)]))
            precondition(line.map { (1...lines).contains($0) } ?? false, "key \(key) placed on line \(String(describing: line))")
        }
        return true
    }
}
