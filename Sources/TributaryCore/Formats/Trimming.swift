extension StringProtocol {
    /// The text without the characters at either end for which `isTrimmed` holds.
    public func trimmed(_ isTrimmed: (Character) -> Bool) -> String {
        String(drop(while: isTrimmed).reversed().drop(while: isTrimmed).reversed())
    }
}
