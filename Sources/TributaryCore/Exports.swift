// A plug-in (a source or sink in a module of its own) builds readings and
// reads stored ones: one `import TributaryCore` brings the log's types
// (`Reading`, `Value`, `StoredReading`) and swift-log's `Logger` with it.
@_exported import Logging
@_exported import TributaryLog
