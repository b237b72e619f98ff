/// The `[device]` section: the identity every forwarded record carries.
enum DeviceIdentity {
    static let expected = "1 to 128 printable ASCII characters without spaces"
    static let path = ConfigurationPath([.key("device"), .key("id")])

    /// `device.id` if given, else the contents of `machineIDPath` (systemd's /etc/machine-id).
    static func read(_ table: TableReader?, diagnostics: ConfigurationDiagnostics, machineIDPath: String) -> String? {
        let given = table?.string("id", expected: "a device id of \(expected)")
        table?.finish()
        if let given {
            guard isValid(given) else {
                diagnostics.report(path, "expected a device id of \(expected), found \"\(given)\"")
                return nil
            }
            return given
        }
        if table?.value("id") != nil { return nil }  // present but not a string: reported
        do {
            let id = String(try TextFile.read(machineIDPath, limit: 4096)
                .filter { !$0.isWhitespace && !$0.isNewline })
            guard isValid(id) else {
                diagnostics.report(path, "no device.id given and \(machineIDPath) does not hold an id; set device.id")
                return nil
            }
            return id
        } catch {
            diagnostics.report(path, "no device.id given and \(machineIDPath) cannot be read (\(error)); set device.id")
            return nil
        }
    }

    static func isValid(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
