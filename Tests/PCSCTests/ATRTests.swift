import PCSC
import Testing

@Suite("ATR parsing and card names")
struct ATRTests {
    @Test("hex with separators parses; hex prints upper-case without separators")
    func hexRoundTrip() throws {
        let atr = try #require(ATR(hex: "3b:8c:80:01:80:5a:43:65:72:74:42:72:69:64:67:65:c8"))
        #expect(atr.bytes.count == 17)
        #expect(atr.hex == "3B8C8001805A43657274427269646765C8")
        #expect(ATR(hex: "3B 8") == nil)
        #expect(ATR(hex: "zz") == nil)
    }

    @Test("known ATRs have names: YubiKey 5 and the virtual card")
    func names() throws {
        #expect(
            try #require(ATR(hex: "3BFD1300008131FE158073C021C057597562694B657940")).cardName
                == "YubiKey 5")
        #expect(
            try #require(ATR(hex: "3B8C8001805A43657274427269646765C8")).cardName
                == "CertBridge virtual PIV card")
        #expect(ATR([0x3B, 0x00]).cardName == nil)
    }

    @Test("a response APDU splits data and status word")
    func response() throws {
        let response = try #require(ResponseAPDU([0x01, 0x02, 0x90, 0x00]))
        #expect(response.data == [0x01, 0x02])
        #expect(response.isSuccess)
        #expect(ResponseAPDU([0x90]) == nil)
    }
}
