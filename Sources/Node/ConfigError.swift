/// Why a node's configuration was refused. Each case renders as one line for stderr.
public enum ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The config file could not be read.
    case unreadableFile(path: String, reason: String)
    /// The config file is not a YAML mapping of settings.
    case malformedFile(path: String, reason: String)
    /// A key in the config file or a `QUNBO_*` variable that names no setting.
    case unknownSetting(name: String, source: String)
    /// A setting's value does not parse or is out of range.
    case invalidValue(name: String, value: String, expected: String, source: String)
    /// Two settings that must go together, or must not.
    case inconsistent(String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read config file \(path): \(reason)"
        case .malformedFile(let path, let reason):
            return "config file \(path) is not a valid settings mapping: \(reason)"
        case .unknownSetting(let name, let source):
            return "unknown setting '\(name)' in \(source)"
        case .invalidValue(let name, let value, let expected, let source):
            return "invalid value '\(value)' for \(name) in \(source): expected \(expected)"
        case .inconsistent(let message):
            return message
        }
    }
}
