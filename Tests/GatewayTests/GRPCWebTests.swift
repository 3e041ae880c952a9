import AccessModel
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

@testable import Gateway

/// gRPC-Web as the gateway translates it (PROTOCOL-WEB.md in github.com/grpc/grpc): which
/// requests are gRPC-Web, the call they become, and the answer's trailer frame, binary and
/// base64. The end-to-end test (`GRPCProxyTests.grpcWebCallsPassAsGRPCCalls`) drives sonora's
/// client through a running gateway.
@Suite struct GRPCWebTests {
    /// What a response body writes: its bytes, and the trailers it finishes with.
    final class Collected: ResponseBodyWriter {
        var bytes: [UInt8] = []
        var trailers: HTTPFields?
        func write(_ buffer: ByteBuffer) async throws { bytes += buffer.readableBytesView }
        func finish(_ trailingHeaders: HTTPFields?) async throws { trailers = trailingHeaders }

        static func body(_ response: Response) async throws -> Collected {
            let collected = Collected()
            try await response.body.write(collected)
            return collected
        }
    }

    static func request(_ contentType: String, body: String) -> Request {
        let head = HTTPRequest(
            method: .post, scheme: "https", authority: "grpc.localhost", path: "/a.B/C",
            headerFields: [.contentType: contentType, .contentLength: String(body.utf8.count)])
        return Request(head: head, body: RequestBody(buffer: ByteBuffer(string: body)))
    }

    @Test func onlyGRPCWebContentTypesAreTranslated() {
        for (type, text, suffix) in [
            ("application/grpc-web", false, ""), ("application/grpc-web+proto", false, "+proto"),
            ("Application/GRPC-Web-Text", true, ""), ("application/grpc-web-text+proto", true, "+proto"),
            ("application/grpc-web; charset=utf-8", false, "; charset=utf-8"),
        ] {
            let web = GRPCWeb([.contentType: type])
            #expect(web?.text == text && web?.suffix == suffix[...], "\(type)")
        }
        for type in ["application/grpc", "application/grpc+proto", "application/grpc-webx", "application/grpc-web-textual", "application/json", ""] {
            #expect(GRPCWeb([.contentType: type]) == nil, "\(type)")
        }
        #expect(GRPCWeb([:]) == nil)
        // Decided as the gRPC call it is, translated or not.
        #expect(GRPCMethod(method: "POST", path: "/a.B/C", contentType: "application/grpc-web-text+proto") == GRPCMethod(service: "a.B", method: "C"))
        #expect(GRPCRefusal.isGRPC([.contentType: "application/grpc-web"]))
    }

    @Test func theCallBecomesGRPCWithItsTextBodyDecoded() async throws {
        let binary = GRPCWeb([.contentType: "application/grpc-web+proto"])!.call(Self.request("application/grpc-web+proto", body: "abc"))
        #expect(binary.headers[.contentType] == "application/grpc+proto" && binary.headers[.te] == "trailers")
        #expect(binary.headers[.contentLength] == "3")
        #expect(String(buffer: try await binary.body.collect(upTo: 100)) == "abc")

        // Two separately padded segments, as a client that encodes each message apart sends them.
        let message = "\u{0}\u{0}\u{0}\u{0}\u{5}hello"
        let segments = Data(message.utf8.prefix(4)).base64EncodedString() + Data(message.utf8.dropFirst(4)).base64EncodedString()
        #expect(segments.contains("==") && !segments.hasSuffix("="), "padding in the middle")
        let web = GRPCWeb([.contentType: "application/grpc-web-text"])!
        let text = web.call(Self.request("application/grpc-web-text", body: segments))
        #expect(text.headers[.contentType] == "application/grpc" && text.headers[.contentLength] == nil)
        #expect(text.headers[.transferEncoding] == "chunked")
        #expect(String(buffer: try await text.body.collect(upTo: 100)) == message)

        // Not base64, or cut short: the read fails, nothing undecodable goes on.
        for broken in ["AAA*", "AAAAA", "A=AA"] {
            let call = web.call(Self.request("application/grpc-web-text", body: broken))
            await #expect(throws: Base64Decoding<RequestBody>.NotBase64.self, "\(broken)") { _ = try await call.body.collect(upTo: 100) }
        }
    }

    @Test func theAnswerCarriesItsTrailersAsTheLastFrame() async throws {
        let refusal = GRPCRefusal.response(code: 7, message: "policy denies this call", requestID: "r1", headers: [:])
        let binary = GRPCWeb([.contentType: "application/grpc-web+proto"])!.answer(refusal)
        #expect(binary.headers[.contentType] == "application/grpc-web")
        let body = try await Collected.body(binary)
        #expect(body.trailers == nil)
        let block = "grpc-status: 7\r\ngrpc-message: policy denies this call\r\nx-request-id: r1\r\n"
        #expect(body.bytes == [0x80, 0, 0, 0, UInt8(block.utf8.count)] + Array(block.utf8))

        // The text form: the same bytes, base64 (messages and trailer frame as one stream).
        let messages = Response(
            status: .ok, headers: [.contentType: "application/grpc+proto"],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(bytes: [0, 0, 0, 0, 1, 0x41]))
                try await writer.write(ByteBuffer(bytes: [0, 0, 0, 0, 2, 0x42, 0x43]))
                try await writer.finish([GRPCRefusal.status: "0"])
            })
        let text = GRPCWeb([.contentType: "application/grpc-web-text+proto"])!.answer(messages)
        #expect(text.headers[.contentType] == "application/grpc-web-text+proto")
        let encoded = try await Collected.body(text)
        let decoded = try #require(Data(base64Encoded: Data(encoded.bytes)))
        let trailer = Array("grpc-status: 0\r\n".utf8)
        #expect(Array(decoded) == [0, 0, 0, 0, 1, 0x41, 0, 0, 0, 0, 2, 0x42, 0x43, 0x80, 0, 0, 0, UInt8(trailer.count)] + trailer)

        // An answer that is not gRPC (an HTTP/1.1 upstream's error page) passes unchanged.
        let page = Response(status: .badGateway, headers: [.contentType: "text/html"], body: ResponseBody(byteBuffer: ByteBuffer(string: "<p>")))
        let passed = GRPCWeb([.contentType: "application/grpc-web"])!.answer(page)
        #expect(passed.headers[.contentType] == "text/html" && passed.status == .badGateway)
    }
}
