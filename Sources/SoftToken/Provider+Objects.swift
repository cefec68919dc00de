internal import CPKCS11
import CSoftTokenCrypto

/// A creation template as the caller gave it.
typealias Template = AttributeMap

extension Template {
    /// Reads a C template; values are copied.
    init(_ pointer: UnsafeMutablePointer<CK_ATTRIBUTE>?, count: CK_ULONG) throws(CKRError) {
        self.init()
        guard count > 0 else { return }
        guard let pointer else { throw CKRError(CKR.argumentsBad) }
        for attribute in UnsafeBufferPointer(start: pointer, count: Int(count)) {
            guard attribute.ulValueLen != unavailable else { throw CKRError(CKR.attributeValueInvalid) }
            let length = Int(attribute.ulValueLen)
            // A CK_BBOOL is one byte (PKCS#11 2.40 §4.1): any other length is an invalid value.
            if Self.booleans.contains(attribute.type) && length != 1 { throw CKRError(CKR.attributeValueInvalid) }
            if length > 0 {
                guard let value = attribute.pValue else { throw CKRError(CKR.attributeValueInvalid) }
                let bytes = UnsafeRawBufferPointer(start: value, count: length)
                self[attribute.type] =
                    CKA.attributeArrays.contains(attribute.type) ? try Self.nested(bytes) : Array(bytes)
            } else {
                self[attribute.type] = []
            }
        }
    }

    /// The CK_BBOOL attributes.
    static let booleans: Set<CK_ATTRIBUTE_TYPE> = [
        CKA.token, CKA.private, CKA.trusted, CKA.sensitive, CKA.encrypt, CKA.decrypt, CKA.wrap, CKA.unwrap,
        CKA.sign, CKA.signRecover, CKA.verify, CKA.verifyRecover, CKA.derive, CKA.extractable, CKA.local,
        CKA.neverExtractable, CKA.alwaysSensitive, CKA.modifiable, CKA.copyable, CKA.destroyable,
        CKA.alwaysAuthenticate, CKA.wrapWithTrusted,
    ]
}

/// Private-key components that leave the token only from a key that is neither sensitive nor
/// unextractable, and then computed from the key.
private let privateComponents: [CK_ATTRIBUTE_TYPE: String] = [
    CKA.privateExponent: "d", CKA.prime1: "p", CKA.prime2: "q", CKA.exponent1: "dp",
    CKA.exponent2: "dq", CKA.coefficient: "qi",
]

/// Attributes the token sets and the caller may not.
private let tokenSet: Set<CK_ATTRIBUTE_TYPE> = [
    CKA.local, CKA.alwaysSensitive, CKA.neverExtractable, CKA.keyGenMechanism,
]

/// Attributes C_SetAttributeValue may change freely: names and metadata, not policy.
let relabelling: Set<CK_ATTRIBUTE_TYPE> = [CKA.label, CKA.id, CKA.subject, CKA.application, CKA.startDate, CKA.endDate]

/// How a key came to be, for LOCAL / ALWAYS_SENSITIVE / NEVER_EXTRACTABLE. A derived key was
/// always sensitive (never extractable) only if its base key was too (PKCS#11 2.40 §4.7).
enum Origin {
    case generated(CK_MECHANISM_TYPE)
    case imported
    case derived(alwaysSensitive: Bool, neverExtractable: Bool)
}

extension Provider {
    // MARK: - Create and destroy

    func createObject(_ handle: CK_SESSION_HANDLE, template: Template) throws(CKRError) -> CK_OBJECT_HANDLE {
        let session = try session(handle)
        var template = template
        defer { template.wipeAll() }
        let object = try makeObject(session, template: &template, origin: .imported)
        try session.token.store(object)
        auditKey(session, object, "import (C_CreateObject)")
        return object.handle
    }

    /// A key made or brought onto the token, or removed from it, goes into the audit trail.
    func auditKey(_ session: Session, _ object: TokenObject, _ operation: String) {
        guard object.isToken, object.objectClass == CKO.privateKey || object.objectClass == CKO.secretKey else {
            return
        }
        session.token.audit(key: object.auditName, operation: operation, outcome: "done")
    }

    /// Checks a creation template and turns it into an object (not yet stored): defaults, the
    /// key material taken out of the attributes, the key's own password applied.
    func makeObject(_ session: Session, template: inout Template, origin: Origin, key given: CryptoKey? = nil)
        throws(CKRError) -> TokenObject
    {
        guard let objectClass = template.ulong(CKA.class) else { throw CKRError(CKR.templateIncomplete) }
        try AttributeApplicability.check(template, objectClass: objectClass, keyType: template.ulong(CKA.keyType))
        for type in template.keys where type == CKA.material || type == CKA.sealedMaterial {
            throw CKRError(CKR.attributeTypeInvalid)
        }
        // Whether a key has its own password is the token's to say, from what it sealed.
        if template[CKA.hasKeyPassword] != nil || template[CKA.triesLeft] != nil {
            throw CKRError(CKR.attributeReadOnly)
        }
        if template[CKA.unlockWithSOPIN] != nil { throw CKRError(CKR.attributeTypeInvalid) }
        // CKA_TRUSTED is the SO's to set (PKCS#11 2.40 §4.8): a user's own trusted key would
        // defeat CKA_WRAP_WITH_TRUSTED.
        if template.bool(CKA.trusted) == true && session.token.loggedIn != CKU.so {
            throw CKRError(CKR.attributeReadOnly)
        }
        let isKey = objectClass == CKO.privateKey || objectClass == CKO.secretKey
        let isToken = template.bool(CKA.token) ?? false
        let isPrivate = template.bool(CKA.private) ?? isKey
        if isKey && !isPrivate { throw CKRError(CKR.attributeValueInvalid) }
        if isToken && !session.readWrite { throw CKRError(CKR.sessionReadOnly) }
        if isPrivate && session.token.loggedIn != CKU.user { throw CKRError(CKR.userNotLoggedIn) }
        if session.token.loggedIn == CKU.so && isPrivate { throw CKRError(CKR.userNotLoggedIn) }

        var password = template.removeValue(forKey: CKA.keyPassword)
        defer { if password != nil { wipe(&password!) } }
        for type in tokenSet { template[type] = nil }

        var attributes = template
        attributes[CKA.token] = [UInt8](bool: isToken)
        attributes[CKA.private] = [UInt8](bool: isPrivate)
        for (type, value) in [(CKA.modifiable, true), (CKA.copyable, true), (CKA.destroyable, true)]
        where attributes[type] == nil {
            attributes[type] = [UInt8](bool: value)
        }
        if attributes[CKA.label] == nil { attributes[CKA.label] = [] }

        switch objectClass {
        case CKO.data:
            if attributes[CKA.value] == nil { attributes[CKA.value] = [] }
            if attributes[CKA.application] == nil { attributes[CKA.application] = [] }
        case CKO.certificate:
            guard attributes[CKA.value] != nil else { throw CKRError(CKR.templateIncomplete) }
            if attributes[CKA.certificateType] == nil { attributes[CKA.certificateType] = [UInt8](ulong: 0) }
            if attributes[CKA.certificateCategory] == nil { attributes[CKA.certificateCategory] = [UInt8](ulong: 0) }
            if attributes[CKA.trusted] == nil { attributes[CKA.trusted] = [UInt8](bool: false) }
            for type in [CKA.id, CKA.subject, CKA.issuer, CKA.serialNumber] where attributes[type] == nil {
                attributes[type] = []
            }
        case CKO.publicKey:
            let key: CryptoKey
            if let given { key = given } else { key = try publicKey(from: attributes) }
            try describePublic(key, into: &attributes)
            setDefaults(
                &attributes,
                [CKA.verify: true, CKA.encrypt: key.isRSA, CKA.wrap: false, CKA.derive: false, CKA.trusted: false])
            attributes[CKA.local] = [UInt8](bool: isGenerated(origin))
            setKeyCommon(&attributes, origin: origin)
        case CKO.privateKey:
            let key: CryptoKey
            if let given { key = given } else { key = try privateKey(from: &attributes) }
            try describePublic(key, into: &attributes)
            attributes[CKA.modulus] = key.isRSA ? key.component("n") : nil
            attributes[CKA.ecPoint] = nil
            // An EC key derives unless the template says otherwise (as NSS's softoken has it):
            // SunPKCS11 generates EC keys with an empty private template and then uses them
            // for KeyAgreement ECDH. PKCS#11 leaves this default to the token.
            setDefaults(
                &attributes,
                [
                    CKA.sign: true, CKA.decrypt: key.isRSA, CKA.unwrap: false, CKA.derive: key.isEC,
                    CKA.signRecover: false, CKA.sensitive: true, CKA.extractable: false,
                    CKA.alwaysAuthenticate: false, CKA.wrapWithTrusted: false,
                ])
            try setApproval(&attributes, password: password)
            setPolicyOrigin(&attributes, origin: origin)
            setKeyCommon(&attributes, origin: origin)
            var material = try key.pkcs8()
            defer { wipe(&material) }
            try applyMaterial(material, password: password, to: &attributes)
        case CKO.secretKey:
            let keyType = template.ulong(CKA.keyType)
            guard keyType == CKK.aes || keyType == CKK.genericSecret else { throw CKRError(CKR.templateInconsistent) }
            guard var value = attributes.removeValue(forKey: CKA.value),
                keyType == CKK.aes ? [16, 24, 32].contains(value.count) : (1...512).contains(value.count)
            else {
                throw CKRError(CKR.attributeValueInvalid)
            }
            defer { wipe(&value) }
            attributes[CKA.valueLen] = [UInt8](ulong: CK_ULONG(value.count))
            // Usable for every function by default, as SoftHSM2 has it: Java's SunPKCS11 brings
            // an HMAC key with CLASS, KEY_TYPE and VALUE only, and then signs with it.
            // Not sensitive unless the template says so (PKCS#11 2.40 §4.10's default), and
            // extractable unless it is sensitive (a default PKCS#11 leaves to the token): a key
            // made without a policy is readable, as SunPKCS11's KeyAgreement needs of the secret
            // it derives; one asked to be sensitive stays unextractable unless the template
            // says otherwise. The same for C_CreateObject, C_GenerateKey, C_UnwrapKey and C_DeriveKey.
            let sensitive = attributes.bool(CKA.sensitive) ?? false
            setDefaults(
                &attributes,
                [
                    CKA.encrypt: true, CKA.decrypt: true, CKA.wrap: true, CKA.unwrap: true,
                    CKA.sign: true, CKA.verify: true, CKA.derive: false, CKA.sensitive: false,
                    CKA.extractable: !sensitive, CKA.trusted: false, CKA.wrapWithTrusted: false,
                    CKA.alwaysAuthenticate: false,
                ])
            try setApproval(&attributes, password: password)
            setPolicyOrigin(&attributes, origin: origin)
            setKeyCommon(&attributes, origin: origin)
            try applyMaterial(value, password: password, to: &attributes)
        default:
            throw CKRError(CKR.attributeValueInvalid)
        }
        if password != nil && objectClass != CKO.privateKey && objectClass != CKO.secretKey {
            throw CKRError(CKR.attributeTypeInvalid)
        }
        return TokenObject(
            handle: try session.token.newHandle(), isPrivate: isPrivate,
            session: isToken ? nil : session.handle, attributes: attributes)
    }

    private func isGenerated(_ origin: Origin) -> Bool {
        if case .generated = origin { return true }
        return false
    }

    private func setDefaults(_ attributes: inout AttributeMap, _ defaults: [CK_ATTRIBUTE_TYPE: Bool]) {
        for (type, value) in defaults where attributes[type] == nil { attributes[type] = [UInt8](bool: value) }
    }

    private func setKeyCommon(_ attributes: inout AttributeMap, origin: Origin) {
        for type in [CKA.id, CKA.startDate, CKA.endDate] where attributes[type] == nil { attributes[type] = [] }
        if case .generated(let mechanism) = origin {
            attributes[CKA.keyGenMechanism] = [UInt8](ulong: mechanism)
        } else {
            attributes[CKA.keyGenMechanism] = [UInt8](ulong: unavailable)
        }
        if attributes[CKA.local] == nil { attributes[CKA.local] = [UInt8](bool: isGenerated(origin)) }
    }

    /// The approval a use needs, fixed here for good: as the template says (a Medium or High
    /// approval brings CKA_ALWAYS_AUTHENTICATE; a key password goes only with High), else a
    /// password for an always-authenticate key and nothing for the others.
    private func setApproval(_ attributes: inout AttributeMap, password: [UInt8]?) throws(CKRError) {
        let alwaysAuthenticate = attributes.bool(CKA.alwaysAuthenticate) == true
        let approval: Approval
        if let given = attributes[CKA.approval] {
            guard let value = given.ulong, let parsed = Approval(rawValue: value) else {
                throw CKRError(CKR.attributeValueInvalid)
            }
            guard (parsed == .none) == !alwaysAuthenticate else { throw CKRError(CKR.templateInconsistent) }
            approval = parsed
        } else {
            approval = alwaysAuthenticate ? .password : .none
        }
        if password != nil && approval != .password { throw CKRError(CKR.templateInconsistent) }
        attributes[CKA.approval] = [UInt8](ulong: approval.rawValue)
    }

    /// ALWAYS_SENSITIVE and NEVER_EXTRACTABLE are true only for a key made here that was so from
    /// birth; a key that came from outside was, once, outside; a derived key's value was only
    /// ever as protected as its base key.
    private func setPolicyOrigin(_ attributes: inout AttributeMap, origin: Origin) {
        let (wasSensitive, wasUnextractable): (Bool, Bool)
        switch origin {
        case .generated: (wasSensitive, wasUnextractable) = (true, true)
        case .imported: (wasSensitive, wasUnextractable) = (false, false)
        case .derived(let sensitive, let unextractable): (wasSensitive, wasUnextractable) = (sensitive, unextractable)
        }
        attributes[CKA.alwaysSensitive] = [UInt8](bool: wasSensitive && attributes.bool(CKA.sensitive) == true)
        attributes[CKA.neverExtractable] = [UInt8](bool: wasUnextractable && attributes.bool(CKA.extractable) == false)
    }

    /// Stores the key material, sealed under the key's own password when it has one (which needs
    /// CKA_ALWAYS_AUTHENTICATE: a password that is asked once would be no password).
    private func applyMaterial(_ material: [UInt8], password: [UInt8]?, to attributes: inout AttributeMap)
        throws(CKRError)
    {
        guard let password else {
            attributes[CKA.material] = material
            return
        }
        guard attributes.bool(CKA.alwaysAuthenticate) == true else { throw CKRError(CKR.templateInconsistent) }
        guard (4...255).contains(password.count) else { throw CKRError(CKR.pinLenRange) }
        let salt = try randomBytes(16)
        let iterations = Self.defaultIterations
        var derived = try Sealing.deriveKey(password, salt: salt, iterations: iterations)
        defer { wipe(&derived) }
        var sealed: [UInt8] = salt
        sealed.append(u32: iterations)
        sealed += try Sealing.seal(material, key: derived, aad: Array("certbridge key password".utf8))
        attributes[CKA.sealedMaterial] = sealed
    }

    /// The key sealed under its own password, opened with it; CKR_PIN_INCORRECT otherwise.
    func openWithPassword(_ object: TokenObject, password: [UInt8]) throws(CKRError) -> CryptoKey {
        guard let sealed = object.attributes[CKA.sealedMaterial], sealed.count > 20 else {
            throw CKRError(CKR.generalError)
        }
        var reader = ByteReader(sealed)
        let salt = Array(try reader.take(16))
        let iterations = try reader.u32()
        var derived = try Sealing.deriveKey(password, salt: salt, iterations: iterations)
        defer { wipe(&derived) }
        guard var material = Sealing.open(reader.rest(), key: derived, aad: Array("certbridge key password".utf8))
        else {
            throw CKRError(CKR.pinIncorrect)
        }
        defer { wipe(&material) }
        guard let key = CryptoKey.fromPKCS8(material) else { throw CKRError(CKR.generalError) }
        return key
    }

    /// Public attributes that follow from the key: modulus and exponent, or curve and point.
    private func describePublic(_ key: CryptoKey, into attributes: inout AttributeMap) throws(CKRError) {
        // PKCS#11 3.0 §4.8/4.9: the SubjectPublicKeyInfo on public and private keys alike, so a
        // client can hold a certificate against the private key itself (EC private keys carry
        // no CKA_EC_POINT), and what a caller gave for it is replaced by the key's own.
        attributes[CKA.publicKeyInfo] = key.component("spki")
        if key.isRSA {
            if attributes.ulong(CKA.keyType) == nil { attributes[CKA.keyType] = [UInt8](ulong: CKK.rsa) }
            guard attributes.ulong(CKA.keyType) == CKK.rsa else { throw CKRError(CKR.templateInconsistent) }
            attributes[CKA.modulus] = key.component("n")
            attributes[CKA.publicExponent] = key.component("e")
            attributes[CKA.modulusBits] = [UInt8](ulong: CK_ULONG(key.bits))
        } else if key.isEC {
            if attributes.ulong(CKA.keyType) == nil { attributes[CKA.keyType] = [UInt8](ulong: CKK.ec) }
            guard attributes.ulong(CKA.keyType) == CKK.ec else { throw CKRError(CKR.templateInconsistent) }
            let nid = cbst_key_ec_nid(key.pointer)
            guard Curve.nids.contains(nid), let point = key.component("ec_point") else {
                throw CKRError(CKR.curveNotSupported)
            }
            attributes[CKA.ecParams] = Curve.params(nid: nid)
            attributes[CKA.ecPoint] = derOctetString(point)
        } else if key.isEdwards {
            try describeEdwards(key, into: &attributes)
        } else {
            throw CKRError(CKR.keyTypeInconsistent)
        }
    }

    /// A public key from a template's components.
    func publicKey(from attributes: AttributeMap) throws(CKRError) -> CryptoKey {
        switch attributes.ulong(CKA.keyType) {
        case CKK.rsa:
            guard let n = attributes[CKA.modulus], let e = attributes[CKA.publicExponent] else {
                throw CKRError(CKR.templateIncomplete)
            }
            guard let key = CryptoKey(cbst_rsa_public(n, n.count, e, e.count)) else {
                throw CKRError(CKR.attributeValueInvalid)
            }
            return key
        case CKK.ec:
            guard let params = attributes[CKA.ecParams], let point = attributes[CKA.ecPoint] else {
                throw CKRError(CKR.templateIncomplete)
            }
            guard let nid = Curve.nid(params: params) else { throw CKRError(CKR.curveNotSupported) }
            // CKA_EC_POINT is a DER OCTET STRING; some callers give the bare point (which may
            // itself look like one).
            for raw in [unwrapOctetString(point), point].compactMap({ $0 }) {
                if let key = CryptoKey(cbst_ec_public(nid, raw, raw.count)) { return key }
            }
            throw CKRError(CKR.attributeValueInvalid)
        case CKK.ecEdwards:
            return try edwardsPublicKey(from: attributes)
        case nil:
            throw CKRError(CKR.templateIncomplete)
        default:
            throw CKRError(CKR.attributeValueInvalid)
        }
    }

    /// A private key from a template's components, which are removed from the attributes (they
    /// live on only inside the material).
    private func privateKey(from attributes: inout AttributeMap) throws(CKRError) -> CryptoKey {
        switch attributes.ulong(CKA.keyType) {
        case CKK.rsa:
            var parts: [[UInt8]] = [
                CKA.modulus, CKA.publicExponent, CKA.privateExponent, CKA.prime1, CKA.prime2,
                CKA.exponent1, CKA.exponent2, CKA.coefficient,
            ].map { attributes[$0] ?? [] }
            defer { for i in parts.indices { wipe(&parts[i]) } }
            for type in privateComponents.keys {
                if attributes[type] != nil { wipe(&attributes[type]!) }
                attributes[type] = nil
            }
            guard !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else {
                throw CKRError(CKR.templateIncomplete)
            }
            guard
                let key = CryptoKey(
                    cbst_rsa_private(
                        parts[0], parts[0].count, parts[1], parts[1].count, parts[2], parts[2].count,
                        parts[3], parts[3].count, parts[4], parts[4].count, parts[5], parts[5].count,
                        parts[6], parts[6].count, parts[7], parts[7].count))
            else {
                throw CKRError(CKR.attributeValueInvalid)
            }
            return key
        case CKK.ec:
            guard let params = attributes[CKA.ecParams], var d = attributes.removeValue(forKey: CKA.value) else {
                throw CKRError(CKR.templateIncomplete)
            }
            defer { wipe(&d) }
            guard let nid = Curve.nid(params: params) else { throw CKRError(CKR.curveNotSupported) }
            guard let key = CryptoKey(cbst_ec_private(nid, d, d.count)) else {
                throw CKRError(CKR.attributeValueInvalid)
            }
            return key
        case CKK.ecEdwards:
            return try edwardsPrivateKey(from: &attributes)
        case nil:
            throw CKRError(CKR.templateIncomplete)
        default:
            throw CKRError(CKR.attributeValueInvalid)
        }
    }

    func destroyObject(_ handle: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) throws(CKRError) {
        let session = try session(handle)
        guard let target = session.token.object(object) else { throw CKRError(CKR.objectHandleInvalid) }
        if target.isToken && !session.readWrite { throw CKRError(CKR.sessionReadOnly) }
        if target.attributes.bool(CKA.destroyable) == false { throw CKRError(CKR.actionProhibited) }
        try session.token.destroy(target)
        auditKey(session, target, "delete (C_DestroyObject)")
    }

    // MARK: - Attributes

    /// C_GetAttributeValue: per attribute, the value, or CK_UNAVAILABLE_INFORMATION with the
    /// reason (sensitive, no such attribute, buffer too small) returned once for the call.
    func getAttributes(
        _ handle: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE,
        template: UnsafeMutableBufferPointer<CK_ATTRIBUTE>
    ) throws(CKRError) {
        let session = try session(handle)
        // Class, id, label and the like come from the catalog without reading the object file.
        let searchableOnly = template.allSatisfy { Catalog.searchable.contains($0.type) }
        guard
            let target = (searchableOnly ? session.token.catalogView(object, for: template.map { $0.type }) : nil)
                ?? session.token.object(object)
        else { throw CKRError(CKR.objectHandleInvalid) }
        var result = CKR.ok
        for i in template.indices {
            let type = template[i].type
            if CKA.attributeArrays.contains(type), let encoded = target.attributes[type] {
                let written = try Template.writeNested(encoded, into: &template[i])
                if result == CKR.ok { result = written }
                continue
            }
            var value: [UInt8]?
            // Key material taken out of the key for this call is wiped after it; a value that is
            // the object's own attribute is shared, not copied (wiping it would copy it first).
            var extracted = false
            var problem = CKR.attributeTypeInvalid
            if let component = privateComponents[type], target.objectClass == CKO.privateKey {
                if isSensitive(target) {
                    problem = CKR.attributeSensitive
                } else {
                    value = try key(of: target).component(component)
                    extracted = true
                }
            } else if type == CKA.value && target.objectClass == CKO.privateKey
                && (target.keyType == CKK.ec || target.keyType == CKK.ecEdwards)
            {
                if isSensitive(target) {
                    problem = CKR.attributeSensitive
                } else {
                    value = try key(of: target).component("ec_d")
                    extracted = true
                }
            } else if type == CKA.value && target.objectClass == CKO.secretKey {
                if isSensitive(target) {
                    problem = CKR.attributeSensitive
                } else {
                    value = target.attributes[CKA.material]
                }
            } else if type == CKA.hasKeyPassword
                && (target.objectClass == CKO.privateKey || target.objectClass == CKO.secretKey)
            {
                value = [UInt8](bool: target.hasKeyPassword)
            } else if type == CKA.triesLeft && target.approval == .password {
                value = [UInt8](ulong: CK_ULONG(session.token.keyTriesLeft(target.handle)))
            } else if type == CKA.approval
                && (target.objectClass == CKO.privateKey || target.objectClass == CKO.secretKey)
            {
                value = [UInt8](ulong: target.approval.rawValue)
            } else if !CKA.hidden.contains(type) {
                value = target.attributes[type]
            }
            defer { if extracted, value != nil { wipe(&value!) } }
            guard let value else {
                template[i].ulValueLen = unavailable
                if result == CKR.ok || problem == CKR.attributeSensitive { result = problem }
                continue
            }
            if let destination = template[i].pValue {
                guard template[i].ulValueLen >= CK_ULONG(value.count) else {
                    template[i].ulValueLen = unavailable
                    if result == CKR.ok { result = CKR.bufferTooSmall }
                    continue
                }
                value.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: value.count) }
            }
            template[i].ulValueLen = CK_ULONG(value.count)
        }
        if result != CKR.ok { throw CKRError(result) }
    }

    private func isSensitive(_ object: TokenObject) -> Bool {
        object.flag(CKA.sensitive) || !object.flag(CKA.extractable) || object.hasKeyPassword
    }

    /// C_SetAttributeValue: names and metadata change; policy only tightens (SENSITIVE to true,
    /// EXTRACTABLE to false, ALWAYS_AUTHENTICATE to true); anything else is read-only; an
    /// attribute the object's class cannot have is CKR_ATTRIBUTE_TYPE_INVALID.
    func setAttributes(_ handle: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, template: Template) throws(CKRError) {
        let session = try session(handle)
        guard let target = session.token.object(object) else { throw CKRError(CKR.objectHandleInvalid) }
        if target.isToken && !session.readWrite { throw CKRError(CKR.sessionReadOnly) }
        if var soPIN = template[CKA.unlockWithSOPIN] {
            defer { wipe(&soPIN) }
            guard template.count == 1, target.approval == .password else { throw CKRError(CKR.attributeTypeInvalid) }
            try session.token.unlockKey(target.handle, soPIN: soPIN)
            session.token.audit(key: target.auditName, operation: "unlock by the SO", outcome: "done")
            return
        }
        try AttributeApplicability.check(template, objectClass: target.objectClass, keyType: target.keyType)
        guard target.attributes.bool(CKA.modifiable) != false else { throw CKRError(CKR.attributeReadOnly) }
        let updated = try tightened(target.attributes, by: template, copying: false)
        let replacement = TokenObject(
            handle: target.handle, isPrivate: target.isPrivate, session: target.session, attributes: updated)
        replacement.cachedKey = target.cachedKey
        try session.token.store(replacement)
    }

    /// The object's usable key: its cached one, or one made from its material.
    func key(of object: TokenObject) throws(CKRError) -> CryptoKey {
        if let key = object.cachedKey { return key }
        let key: CryptoKey
        if let material = object.attributes[CKA.material] {
            guard let made = CryptoKey.fromPKCS8(material) else { throw CKRError(CKR.generalError) }
            key = made
        } else if object.objectClass == CKO.publicKey {
            key = try publicKey(from: object.attributes)
        } else {
            throw CKRError(CKR.userNotLoggedIn)
        }
        object.cachedKey = key
        return key
    }

    // MARK: - Finding

    func findInit(_ handle: CK_SESSION_HANDLE, template: Template) throws(CKRError) {
        let session = try session(handle)
        guard session.found == nil else { throw CKRError(CKR.operationActive) }
        try session.token.refresh()
        session.found = try session.token.matching(template).sorted(by: >)
    }

    func find(_ handle: CK_SESSION_HANDLE, max: Int) throws(CKRError) -> [CK_OBJECT_HANDLE] {
        let session = try session(handle)
        guard let count = session.found.map({ Swift.min(max, $0.count) }) else {
            throw CKRError(CKR.operationNotInitialized)
        }
        // In place: a copy of the remaining handles per call made a client that asks for one
        // handle at a time (pkcs11-tool, p11tool) quadratic in the number of objects.
        let batch = Array(session.found!.suffix(count).reversed())
        session.found!.removeLast(count)
        return batch
    }

    func findFinal(_ handle: CK_SESSION_HANDLE) throws(CKRError) {
        let session = try session(handle)
        guard session.found != nil else { throw CKRError(CKR.operationNotInitialized) }
        session.found = nil
    }
}

/// DER OCTET STRING around bytes.
func derOctetString(_ bytes: [UInt8]) -> [UInt8] {
    if bytes.count < 128 { return [0x04, UInt8(bytes.count)] + bytes }
    if bytes.count < 256 { return [0x04, 0x81, UInt8(bytes.count)] + bytes }
    return [0x04, 0x82, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
}

/// The contents of a DER OCTET STRING that is the whole of `bytes`, else nil.
func unwrapOctetString(_ bytes: [UInt8]) -> [UInt8]? {
    guard bytes.count >= 2, bytes[0] == 0x04 else { return nil }
    var length = Int(bytes[1])
    var start = 2
    if bytes[1] & 0x80 != 0 {
        let count = Int(bytes[1] & 0x7F)
        guard count <= 2, bytes.count >= 2 + count else { return nil }
        length = bytes[2..<2 + count].reduce(0) { $0 << 8 | Int($1) }
        start = 2 + count
    }
    guard start + length == bytes.count else { return nil }
    return Array(bytes[start...])
}
