/// tributary's version: `tributary --version` prints it and `packaging/build-deb` names the package after it.
enum TributaryVersion {
    static let current = "0.1.0"
}
