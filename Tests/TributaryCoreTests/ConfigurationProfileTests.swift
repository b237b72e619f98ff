import Foundation
import Testing
import TributaryTestSupport
@testable import TributaryCore

@Suite("Configuration profiles")
struct ConfigurationProfileTests {
    /// A configuration whose source names `profile`, written to a scratch directory with
    /// `profiles` (name to text) in its `profiles/` directory.
    private static func parse(source: String, profiles: [String: String]) throws -> TributaryConfiguration {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.path("profiles"), withIntermediateDirectories: true)
        for (name, text) in profiles {
            try Data(text.utf8).write(to: URL(fileURLWithPath: scratch.path("profiles/\(name).toml")))
        }
        return try TributaryConfiguration.parse(pipeline: "[[sources]]\ntopic = \"readings\"\n" + source,
                                                file: scratch.path("tributary.toml"), plugins: .builtIn)
    }

    private static func mistakes(source: String, profiles: [String: String]) -> [ConfigurationError] {
        do {
            _ = try parse(source: source, profiles: profiles)
            return []
        } catch let errors as ConfigurationErrors {
            return errors.errors
        } catch {
            return [ConfigurationError(file: "", line: nil, key: "", message: "\(error)")]
        }
    }

    @Test("a profile's keys fill the table that names it; the table's own keys win")
    func profileKeysFillTheTable() throws {
        let configuration = try Self.parse(
            source: "type = \"sim\"\nprofile = \"fast\"\nrate = 5\n",
            profiles: ["fast": "sensors = 3\nrate = 100\nsignals = [\"constant\"]\n"])
        let settings = try #require(configuration.sources.first?.settings as? SimulatedSourceConfiguration)
        #expect(settings.sensors == 3 && settings.readingsPerSecond == 5 && settings.shapes == [.constant])
    }

    @Test("a mistake in a profile's key names the profile's file and line and the key's place in the configuration")
    func mistakesInAProfileNameItsFile() {
        let errors = Self.mistakes(source: "type = \"sim\"\nprofile = \"fast\"\n",
                                   profiles: ["fast": "# a profile\nsensors = 3\nrate = \"fast\"\nsensrs = 2\n"])
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.file.hasSuffix("/profiles/fast.toml") }, "\(errors)")
        #expect(errors.map(\.line) == [3, 4] && errors.map(\.key) == ["sources[0].rate", "sources[0].sensrs"])
    }

    @Test("a profile that is not there names the directories looked in, at the configuration's line")
    func missingProfile() {
        let errors = Self.mistakes(source: "type = \"sim\"\nprofile = \"slow\"\n", profiles: [:])
        #expect(errors.count == 1)
        #expect(errors.first?.file.hasSuffix("/tributary.toml") == true && errors.first?.key == "sources[0].profile")
        #expect(errors.first?.line == 7, "the profile key's line in the pipeline: \(errors)")
        #expect(errors.first?.message.hasPrefix("no profile \"slow\": looked for slow.toml in ") == true)
        #expect(errors.first?.message.hasSuffix("/profiles and /usr/share/tributary/profiles") == true)
    }

    @Test("a profile that is not TOML is a syntax error in the profile's file")
    func profileSyntaxError() {
        let errors = Self.mistakes(source: "type = \"sim\"\nprofile = \"broken\"\n",
                                   profiles: ["broken": "sensors = 3\nrate = = 2\n"])
        #expect(errors.count == 1)
        #expect(errors.first?.file.hasSuffix("/profiles/broken.toml") == true && errors.first?.line == 2, "\(errors)")
        #expect(errors.first?.message.hasPrefix("not valid TOML") == true)
    }

    @Test("a profile does not name another profile")
    func noNestedProfiles() {
        let errors = Self.mistakes(source: "type = \"sim\"\nprofile = \"outer\"\n",
                                   profiles: ["outer": "sensors = 3\nprofile = \"inner\"\n", "inner": "rate = 2\n"])
        #expect(errors.map(\.message) == ["a profile cannot name another profile"], "\(errors)")
        #expect(errors.first?.file.hasSuffix("/profiles/outer.toml") == true && errors.first?.line == 2)
    }
}
