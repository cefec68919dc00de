internal import PKCS11

/// Keys and certificates that share a CKA_ID, as PKCS#11 applications pair them: the labels of
/// the certificates and private keys by hex id, read before a listing so that it can name each
/// object's partner as it prints. A listing of every class reads each object's common
/// attributes once (`ObjectBasics`, kept for its summary); a listing of one class makes two
/// filtered searches and one small read per certificate and private key. About a hundred bytes
/// per object, not the objects themselves.
struct Pairs {
    private var certificateLabels: [String: String] = [:]
    private var keyLabels: [String: String] = [:]
    /// What the pass read of each object found, in order, when it read every object.
    private var found: [ObjectBasics] = []

    /// No pairs.
    init() {}

    /// The pairs among the objects that match `template` in every class but its own: a listing
    /// of only the private keys still names their certificates.
    init(in session: Session, template: [Attribute], found: [Object], readers: Store.SummaryReaders)
        throws(PKCS11Error)
    {
        let listed = template.first { $0.type == .class }.map { AttributeValues([.class: $0.value]).objectClass } ?? nil
        if listed == nil {
            // Every class is listed: the pairs are among the objects found, with no search of
            // their own (a search costs a pass over every object file on SoftHSM2), and what is
            // read of each is kept for its summary.
            self.found.reserveCapacity(found.count)
            for object in found {
                let basics = ObjectBasics(try readers.common.read(object))
                self.found.append(basics)
                guard let id = basics.id, !id.isEmpty else { continue }
                switch basics.objectClass {
                case .certificate?: certificateLabels[hex(id)] = basics.label ?? ""
                case .privateKey?: keyLabels[hex(id)] = basics.label ?? ""
                default: break
                }
            }
            return
        }
        let rest = template.filter { $0.type != .class }
        let reader = AttributeReader(session: session, attributes: [(.id, 256), (.label, 256)])
        if listed != .certificate {
            certificateLabels = try Self.labels(of: .certificate, matching: rest, in: session, reader: reader)
        }
        if listed == nil || listed == .certificate {
            keyLabels = try Self.labels(of: .privateKey, matching: rest, in: session, reader: reader)
        }
    }

    private static func labels(
        of objectClass: ObjectClass, matching template: [Attribute], in session: Session,
        reader: AttributeReader
    ) throws(PKCS11Error) -> [String: String] {
        var labels: [String: String] = [:]
        for object in try session.findObjects([Attribute(objectClass)] + template) {
            let values = try reader.read(object)
            if let id = values.id, !id.isEmpty { labels[hex(id)] = values.label ?? "" }
        }
        return labels
    }

    /// What the pass read of the `n`th object found; nil when it did not read every object.
    func basics(_ n: Int) -> ObjectBasics? { n < found.count ? found[n] : nil }

    /// Sets `pairedWith`: a certificate's private key, or the certificate of any other object.
    func pair(_ summary: inout ObjectSummary) {
        guard !summary.id.isEmpty else { return }
        summary.pairedWith = summary.class == "certificate" ? keyLabels[summary.id] : certificateLabels[summary.id]
    }
}
