import Foundation
import Prometheus
import Synchronization

/// Everything `/metrics` shows, for one `portcullis serve` process.
///
/// Per-request instruments (counters, latency histograms) live in a Prometheus registry handed
/// to the modules as a `MetricsFactory`, never bootstrapped globally. Figures that components
/// already keep as atomics (audit queue, token cache, open connections) are read at scrape time
/// from registered samplers instead of being mirrored on every event.
final class Telemetry: Sendable {
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    private let samplers = Mutex<[@Sendable (inout SampleWriter) -> Void]>([])

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            .seconds(10),
        ]
        self.factory = factory
    }

    /// Adds figures read at every scrape.
    func addSampler(_ sampler: @escaping @Sendable (inout SampleWriter) -> Void) {
        samplers.withLock { $0.append(sampler) }
    }

    /// The Prometheus text exposition (format 0.0.4) of everything registered.
    func exposition() -> [UInt8] {
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        var writer = SampleWriter()
        for sampler in samplers.withLock({ $0 }) { sampler(&writer) }
        bytes += Array(writer.text.utf8)
        return bytes
    }
}

/// Writes sampled figures in the Prometheus text format, one `# TYPE` line per metric name.
struct SampleWriter {
    private(set) var text = ""
    private var typed: Set<String> = []

    mutating func counter(_ name: String, _ value: Int, labels: KeyValuePairs<String, String> = [:]) {
        sample(name, type: "counter", value: value, labels: labels)
    }

    mutating func gauge(_ name: String, _ value: Int, labels: KeyValuePairs<String, String> = [:]) {
        sample(name, type: "gauge", value: value, labels: labels)
    }

    private mutating func sample(_ name: String, type: String, value: Int, labels: KeyValuePairs<String, String>) {
        if typed.insert(name).inserted { text += "# TYPE \(name) \(type)\n" }
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(Self.escaped($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " \(value)\n"
    }

    private static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
