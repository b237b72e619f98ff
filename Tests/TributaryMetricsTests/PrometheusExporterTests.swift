import Testing
@testable import TributaryMetrics
