/// Turns swift-log metadata keys into journal field names.
///
/// The rule (documented in `systemd/README.md`): every metadata key becomes
/// `TRIBUTARY_` + the key in upper case, with each character outside `[A-Z0-9_]` replaced by
/// `_`, cut to the journal's 64-character limit. `source` becomes `TRIBUTARY_SOURCE`,
/// `sink.name` becomes `TRIBUTARY_SINK_NAME`; query with `journalctl TRIBUTARY_SOURCE=modbus1`.
///
/// Why a prefix: the journal gives meaning to many plain names (`MESSAGE`, `PRIORITY`,
/// `ERRNO`, `SYSLOG_IDENTIFIER`, `CODE_FILE`, `UNIT`…) and to every name starting with `_`
/// (trusted fields, which it rejects from clients). A metadata key `message` or `unit` must
/// not overwrite those, and a key starting with a digit or `_` must still give a valid name.
/// One fixed prefix keeps every result valid and predictable.
public enum JournalFieldName {
    /// The prefix on every field made from metadata.
    public static let prefix = "TRIBUTARY_"
    /// journald drops fields whose names are longer.
    public static let maximumLength = 64

    /// The journal field name for a metadata key; always valid (`[A-Z][A-Z0-9_]*`, at most 64).
    public static func forMetadataKey(_ key: String) -> String {
        var name = prefix
        name.reserveCapacity(min(maximumLength, prefix.utf8.count + key.utf8.count))
        for scalar in key.unicodeScalars {
            guard name.utf8.count < maximumLength else { break }
            switch scalar {
            case "A"..."Z", "0"..."9", "_":
                name.unicodeScalars.append(scalar)
            case "a"..."z":
                name.unicodeScalars.append(Unicode.Scalar(scalar.value - 0x20)!)
            default:
                name.unicodeScalars.append("_")
            }
        }
        if name == prefix {
            name += "UNNAMED"
        }
        return name
    }
}
