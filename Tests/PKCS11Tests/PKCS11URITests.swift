import Testing

@testable import PKCS11

@Suite("PKCS#11 URIs (RFC 7512)")
struct PKCS11URITests {
    @Test(
        "parses path and query attributes, percent-decoding values",
        arguments: [
            ("pkcs11:token=Backup;object=alice;type=private", "Backup", "alice", PKCS11URI.ObjectType.privateKey),
            ("pkcs11:token=My%20Token;object=Zo%C3%AB;type=cert", "My Token", "Zoë", .certificate),
            ("pkcs11:object=a%3Bb%3Fc;token=x%26y;type=public", "x&y", "a;b?c", .publicKey),
            ("pkcs11:type=secret-key;token=t;object=o", "t", "o", .secretKey),
        ])
    func parses(text: String, token: String, object: String, type: PKCS11URI.ObjectType) throws {
        let uri = try PKCS11URI(text)
        #expect(uri.token == token)
        #expect(uri.object == object)
        #expect(uri.type == type)
    }

    @Test("id is raw bytes")
    func idBytes() throws {
        let uri = try PKCS11URI("pkcs11:id=%01%02%fe%FF")
        #expect(uri.id == [0x01, 0x02, 0xFE, 0xFF])
        #expect(uri.description == "pkcs11:id=%01%02%FE%FF")
    }

    @Test("slot-id, manufacturer, serial, model, library and module query attributes")
    func otherAttributes() throws {
        let uri = try PKCS11URI(
            "pkcs11:slot-id=7;manufacturer=SoftHSM%20project;serial=abc;model=SoftHSM%20v2;library-description=x?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/tmp/pin"
        )
        #expect(uri.slotID == 7)
        #expect(uri.manufacturer == "SoftHSM project")
        #expect(uri.serial == "abc")
        #expect(uri.model == "SoftHSM v2")
        #expect(uri.libraryDescription == "x")
        #expect(uri.modulePath == "/usr/lib/softhsm/libsofthsm2.so")
        #expect(uri.pinSource == "file:/tmp/pin")
    }

    @Test("printing then parsing gives the same URI")
    func roundTrip() throws {
        var uri = PKCS11URI()
        uri.token = "Büro; Schlüssel?"
        uri.object = "a=b&c"
        uri.id = [0, 1, 0xAB]
        uri.type = .privateKey
        uri.slotID = 3
        uri.moduleName = "softhsm2"
        #expect(try PKCS11URI(uri.description) == uri)
    }

    @Test(
        "fails closed on what it does not understand",
        arguments: [
            ("token=x", "does not start"),
            ("pkcs11:tokn=x", "\"tokn\" is not a path attribute"),
            ("pkcs11:token=x?color=red", "\"color\" is not a query attribute"),
            ("pkcs11:type=secret", "type must be one of"),
            ("pkcs11:token=%4", "malformed percent-escape"),
            ("pkcs11:token=%zz", "malformed percent-escape"),
            ("pkcs11:slot-id=abc", "slot-id must be a decimal number"),
            ("pkcs11:token=a;token=b", "given twice"),
            ("pkcs11:token", "not of the form name=value"),
            ("pkcs11:token=%FF%FE", "not UTF-8"),
            ("pkcs11:token=x?pin-value=1234", "pin-value is refused"),
        ])
    func rejects(text: String, message: String) {
        #expect {
            _ = try PKCS11URI(text)
        } throws: { error in
            guard let error = error as? PKCS11Error else { return false }
            return error.code == .invalidURI && error.reason.contains(message) && !error.reason.contains("1234")
        }
    }

    @Test("object template holds class, label and id")
    func template() throws {
        let uri = try PKCS11URI("pkcs11:object=k;id=%05;type=private")
        #expect(
            uri.objectTemplate == [Attribute(.privateKey), Attribute(.label, string: "k"), Attribute(.id, bytes: [5])])
        #expect(uri.namesObject)
        #expect(!(try PKCS11URI("pkcs11:token=t")).namesObject)
    }
}
