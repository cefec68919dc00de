internal import COpenSSL

/// The elliptic curves a PKCS#11 token commonly takes, named as NIST names them.
public enum Curve: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case p256 = "P-256"
    case p384 = "P-384"
    case p521 = "P-521"

    /// The curve's name, e.g. `P-256`.
    public var description: String { rawValue }

    /// Field size in bits (also the key size a person sees).
    public var bits: Int {
        switch self {
        case .p256: 256
        case .p384: 384
        case .p521: 521
        }
    }

    /// The private value's length in bytes; CKA_VALUE is padded to it.
    var scalarByteCount: Int { (bits + 7) / 8 }

    var nid: Int32 {
        switch self {
        case .p256: NID_X9_62_prime256v1
        case .p384: NID_secp384r1
        case .p521: NID_secp521r1
        }
    }

    /// OpenSSL's group name, as `OSSL_PKEY_PARAM_GROUP_NAME` wants it.
    var groupName: String { String(cString: OBJ_nid2sn(nid)) }

    /// The named-curve OID as DER, which is CKA_EC_PARAMS (`i2d_ASN1_OBJECT`).
    public var parametersDER: [UInt8] {
        let object = OBJ_nid2obj(nid)
        return OpenSSLRuntime.der { i2d_ASN1_OBJECT(object, $0) } ?? []
    }

    /// The curve an OpenSSL NID names, if it is one of ours.
    init?(nid: Int32) {
        guard let curve = Curve.allCases.first(where: { $0.nid == nid }) else { return nil }
        self = curve
    }

    /// The curve a DER OID (CKA_EC_PARAMS) names; explicit parameters are not supported.
    public init(parametersDER: [UInt8]) throws(PKCS12Error) {
        OpenSSLRuntime.ensureLoaded()
        let object: OpaquePointer? = parametersDER.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ASN1_OBJECT(nil, &cursor, buffer.count)
        }
        guard let object else {
            throw PKCS12Error(.unsupportedAlgorithm, "EC parameters are not a named curve OID")
        }
        defer { ASN1_OBJECT_free(object) }
        let nid = OBJ_obj2nid(object)
        guard let curve = Curve(nid: nid) else {
            throw PKCS12Error(.unsupportedAlgorithm, "unsupported curve \(OpenSSLRuntime.name(of: object))")
        }
        self = curve
    }
}
