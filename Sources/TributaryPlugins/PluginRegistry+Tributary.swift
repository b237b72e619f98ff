import TributaryCore
import TributaryHardware
import TributaryKafka
import TributaryMQTT

extension PluginRegistry {
    /// Every kind of source and sink this executable can run, by `type`.
    /// A new kind is one line here: `.adding(source: ItsSettings.self)` or
    /// `.adding(sink: ItsSettings.self)`.
    public static let tributary = PluginRegistry.builtIn
        .adding(source: MQTTSourceSettings.self)
        .adding(source: SysfsSourceSettings.self)
        .adding(source: SerialSourceSettings.self)
        .adding(source: ModbusSourceSettings.self)
        .adding(source: GPIOSourceSettings.self)
        .adding(sink: MQTTSinkSettings.self)
        .adding(sink: KafkaSinkSettings.self)
}
