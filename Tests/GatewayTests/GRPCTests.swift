import AccessModel
import Foundation
import HTTPTypes
import Testing

@testable import Gateway

/// The pieces of gRPC the gateway reads itself: which calls are gRPC and which method they
/// call, `grpc-timeout`, the statuses it ends calls with, and what their audit records say
/// (PROTOCOL-HTTP2.md in github.com/grpc/grpc is the reference for every value here).
@Suite struct GRPCTests {
    static let denied = Refusal(status: .forbidden, code: "forbidden", message: "policy denies this request", outcome: .deny, reason: nil)

    @Test func aGRPCCallIsAPOSTWithAGRPCContentTypeToServiceAndMethod() {
        let call = GRPCMethod(method: "POST", path: "/logistics.fleet.v1.Positions/Watch", contentType: "application/grpc")
        #expect(call == GRPCMethod(service: "logistics.fleet.v1.Positions", method: "Watch"))
        for type in ["application/grpc+proto", "application/grpc+json", "Application/GRPC", "application/grpc; charset=utf-8"] {
            #expect(GRPCMethod.isGRPC(contentType: type), "\(type)")
        }
        for type in ["application/grpc-web", "application/grpcx", "application/json", "application/grp", "", "text/grpc"] {
            #expect(!GRPCMethod.isGRPC(contentType: type), "\(type)")
        }
        #expect(GRPCMethod(method: "GET", path: "/a.B/C", contentType: "application/grpc") == nil)
        #expect(GRPCMethod(method: "POST", path: "/a.B/C", contentType: nil) == nil)
        for path in ["/", "/a.B", "/a.B/", "//C", "/a.B/C/D", "a.B/C"] {
            #expect(GRPCMethod(path: path) == nil, "\(path)")
        }
    }

    @Test func grpcTimeoutIsReadAsTheProtocolSpellsIt() {
        #expect(GRPCTimeout.parse("1S") == .seconds(1))
        #expect(GRPCTimeout.parse("250m") == .milliseconds(250))
        #expect(GRPCTimeout.parse("2M") == .seconds(120))
        #expect(GRPCTimeout.parse("1H") == .seconds(3600))
        #expect(GRPCTimeout.parse("5000u") == .microseconds(5000))
        #expect(GRPCTimeout.parse("99999999n") == .nanoseconds(99_999_999))
        // More than 8 digits, no unit, an unknown unit, a sign or spaces: not a timeout.
        for text in ["123456789S", "10", "S", "10s", "-1S", " 1S", "1.5S", ""] {
            #expect(GRPCTimeout.parse(text) == nil, "\(text)")
        }
    }

    @Test func callsTheGatewayEndsCarryTheStatusThatSaysWhy() {
        #expect(StreamClosure.revoked(Self.denied).grpcStatus?.code == 7)
        #expect(StreamClosure.lifetimeReached(.seconds(3)).grpcStatus?.code == 14)
        #expect(StreamClosure.deadlineExceeded.grpcStatus?.code == 4)
        #expect(StreamClosure.upstreamFailed("reset").grpcStatus?.code == 14)
        #expect(StreamClosure.ended.grpcStatus == nil && StreamClosure.clientGone.grpcStatus == nil)
        let trailers = GRPCRefusal.trailers(code: 7, message: "access revoked: policy denies this request", requestID: "r1")
        #expect(trailers[GRPCRefusal.status] == "7" && trailers[GatewayHeaders.requestID] == "r1")
        #expect(trailers[GRPCRefusal.message] == "access revoked: policy denies this request")
        #expect(GRPCRefusal.percentEncoded("née 100%") == "n%C3%A9e 100%25")
    }

    /// A trailers-only answer (status in the head that ends the stream) goes on as a head and
    /// trailers: everything but the content type moves.
    @Test func aTrailersOnlyAnswerBecomesHeadAndTrailers() throws {
        var head: HTTPFields = [.contentType: "application/grpc", GRPCRefusal.status: "5", GRPCRefusal.message: "no such truck"]
        head.append(HTTPField(name: HTTPField.Name("x-echo-trailer")!, value: "fail"))
        let trailers = try #require(UpstreamForwarder.movingGRPCStatus(from: &head))
        #expect(head == [.contentType: "application/grpc"])
        #expect(trailers[GRPCRefusal.status] == "5" && trailers[GRPCRefusal.message] == "no such truck")
        #expect(trailers[HTTPField.Name("x-echo-trailer")!] == "fail")
        var ordinary: HTTPFields = [.contentType: "application/grpc"]
        #expect(UpstreamForwarder.movingGRPCStatus(from: &ordinary) == nil && ordinary == [.contentType: "application/grpc"])
    }

    @Test func theAuditRecordNamesTheMethodItsStatusAndTheStream() throws {
        var record = AccessRecord(requestID: "r2", clientAddress: "127.0.0.1")
        record.outcome = .deny
        record.grpc = GRPCMethod(service: "logistics.fleet.v1.Positions", method: "Watch")
        record.grpcStatus = 16
        record.stream = StreamSummary(
            kind: .stream, opened: "r1", duration: .milliseconds(2003), bytesUp: 17, bytesDown: 230,
            closure: .revoked(Self.denied))
        let details = try #require(record.event(status: 200).details)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(details.utf8)) as? [String: Any])
        #expect(object["grpc"] as? NSDictionary == ["service": "logistics.fleet.v1.Positions", "method": "Watch", "status": 16] as NSDictionary)
        #expect(
            object["stream"] as? NSDictionary
                == [
                    "kind": "stream", "opened_by": "r1", "milliseconds": 2003, "bytes_up": 17, "bytes_down": 230, "closed_by": "revoked",
                ] as NSDictionary)
        #expect(details.contains(#""grpc":{"#), "what the audit corpus groups gRPC records by")
    }
}
