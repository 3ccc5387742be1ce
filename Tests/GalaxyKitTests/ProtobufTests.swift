import Foundation
import XCTest
@testable import GalaxyKit

/// The wire format galaxy writes TensorBoard's event files and ONNX models in (Protobuf.swift), against the
/// encodings protobuf's documentation spells out byte by byte; FormatReaderTests read whole files with
/// TensorBoard's reader, onnx.checker and ONNX Runtime.
final class ProtobufTests: XCTestCase {
    func testFieldsAreEncodedAsTheWireFormatSpecifies() {
        var w = ProtobufWriter()
        w.int(1, 150)  // the encoding guide's first example: 08 96 01
        XCTAssertEqual(w.bytes, [0x08, 0x96, 0x01])
        w = ProtobufWriter()
        w.string(2, "testing")
        XCTAssertEqual(w.bytes, [0x12, 0x07] + Array("testing".utf8))
        w = ProtobufWriter()
        w.int(1, -1)  // int64 -1: ten bytes of two's complement
        XCTAssertEqual(w.bytes, [0x08] + [UInt8](repeating: 0xff, count: 9) + [0x01])
        w = ProtobufWriter()
        w.float(2, 1)  // fixed32, little-endian 0x3f800000
        XCTAssertEqual(w.bytes, [0x15, 0x00, 0x00, 0x80, 0x3f])
        w = ProtobufWriter()
        w.double(1, -2)  // fixed64, little-endian 0xc000000000000000
        XCTAssertEqual(w.bytes, [0x09, 0, 0, 0, 0, 0, 0, 0, 0xc0])
        w = ProtobufWriter()
        w.packedInts(4, [3, 270, 86942])  // the guide's packed example: 22 06 03 8e 02 9e a7 05
        XCTAssertEqual(w.bytes, [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05])
        w = ProtobufWriter()
        w.int(2000, 1)  // a two-byte key
        XCTAssertEqual(w.bytes, [0x80, 0x7d, 0x01])
    }

    func testMessagesReadBackWhatTheyWroteAndSkipUnknownFields() throws {
        var event = Tensorboard_Event()
        event.wallTime = 1_764_000_000.25
        event.step = -3
        event.summary = Tensorboard_Summary.with { $0.value = [.with { $0.tag = "loss"; $0.simpleValue = 0 }, .with { $0.tag = "rmse"; $0.simpleValue = 0.125 }] }
        // An unknown varint, 64-bit and length-delimited field before the known ones: skipped.
        var w = ProtobufWriter()
        w.int(9, 7)
        w.double(10, 1)
        w.string(11, "ignored")
        let back = try Tensorboard_Event(serializedBytes: w.bytes + event.serializedBytes())
        XCTAssertEqual(back.wallTime, event.wallTime)
        XCTAssertEqual(back.step, -3)
        XCTAssertEqual(back.summary.value.map(\.tag), ["loss", "rmse"])
        // A oneof member at its default is written: a scalar of 0 is a value, not an absent one.
        XCTAssertEqual(back.summary.value.map(\.simple), [0, 0.125])

        // A repeated integer reads the same packed and unpacked.
        var unpacked = ProtobufWriter()
        for d in [2, 300, 5] as [Int64] { unpacked.int(1, d) }
        var packed = ProtobufWriter()
        packed.packedInts(1, [2, 300, 5])
        XCTAssertEqual(try Onnx_TensorProto(serializedBytes: unpacked.bytes).dims, [2, 300, 5])
        XCTAssertEqual(try Onnx_TensorProto(serializedBytes: packed.bytes).dims, [2, 300, 5])
    }

    func testTruncatedOrMalformedMessagesThrow() {
        let event = Tensorboard_Event.with { $0.step = 300; $0.fileVersion = TensorBoardLog.fileVersion }.serializedBytes()
        // The step field is bytes 0-2 (10 ac 02): a cut there ends a shorter, valid message; any other cut is inside a field.
        XCTAssertEqual(try Tensorboard_Event(serializedBytes: event[..<3]).step, 300)
        for cut in 1..<event.count where cut != 3 {
            XCTAssertThrowsError(try Tensorboard_Event(serializedBytes: event[..<cut]), "cut at \(cut) of \(event.count)")
        }
        XCTAssertThrowsError(try Tensorboard_Event(serializedBytes: [0x08] + [UInt8](repeating: 0x80, count: 11)))  // an 11-byte varint
        XCTAssertThrowsError(try Tensorboard_Event(serializedBytes: [0x0b]))  // wire type 3 (groups)
        XCTAssertThrowsError(try Tensorboard_Event(serializedBytes: [0x00, 0x00]))  // field number 0
        XCTAssertThrowsError(try Tensorboard_Event(serializedBytes: [0x11, 0x01]))  // step (a varint field) as fixed64
    }
}
