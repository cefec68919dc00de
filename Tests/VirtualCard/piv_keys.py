"""The card's key material: generation, Yubico import format, and the private-key operations
GENERAL AUTHENTICATE needs (raw RSA, ECDSA, ECDH), plus the management-key block cipher."""
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # cryptography >= 43 moved 3DES out of the main namespace
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # Debian 12's cryptography 38
    TripleDES = algorithms.TripleDES

import tlv

try:
    from openssl_rsa import RawRSA
except OSError:  # no libcrypto: fall back to Python's pow, correct but slow
    RawRSA = None

# PIV algorithm identifiers (SP 800-78 table 6-2; Yubico uses the same bytes).
ALG_3DES = 0x03
ALG_RSA1024 = 0x06
ALG_RSA2048 = 0x07
ALG_AES128 = 0x08
ALG_AES192 = 0x0A
ALG_AES256 = 0x0C
ALG_ECCP256 = 0x11
ALG_ECCP384 = 0x14

RSA_BITS = {ALG_RSA1024: 1024, ALG_RSA2048: 2048}
EC_CURVES = {ALG_ECCP256: (ec.SECP256R1(), hashes.SHA256(), 32),
             ALG_ECCP384: (ec.SECP384R1(), hashes.SHA384(), 48)}
SYMMETRIC_KEY_LENGTHS = {ALG_3DES: 24, ALG_AES128: 16, ALG_AES192: 24, ALG_AES256: 32}


class CardKey:
    """A private key in a slot, with the algorithm byte the card reports for it."""

    def __init__(self, algorithm: int, private_key):
        self.algorithm = algorithm
        self.private_key = private_key
        if algorithm in RSA_BITS:
            numbers = private_key.private_numbers()
            # Kept as ints: raw RSA by CRT is the card's signing hot path.
            self._p, self._q = numbers.p, numbers.q
            self._dp, self._dq, self._qinv = numbers.dmp1, numbers.dmq1, numbers.iqmp
            self._n = numbers.public_numbers.n
            self.size = RSA_BITS[algorithm] // 8
            self._fast = None
            if RawRSA is not None:
                self._fast = RawRSA(bytes.fromhex(self.to_pkcs8_hex()), self.size)

    # Persistence -----------------------------------------------------------------------------
    def to_pkcs8_hex(self) -> str:
        return self.private_key.private_bytes(serialization.Encoding.DER,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).hex()

    @staticmethod
    def from_pkcs8_hex(algorithm: int, text: str) -> "CardKey":
        return CardKey(algorithm, serialization.load_der_private_key(bytes.fromhex(text), None))

    # Creation --------------------------------------------------------------------------------
    @staticmethod
    def generate(algorithm: int) -> "CardKey":
        if algorithm in RSA_BITS:
            return CardKey(algorithm, rsa.generate_private_key(65537, RSA_BITS[algorithm]))
        if algorithm in EC_CURVES:
            return CardKey(algorithm, ec.generate_private_key(EC_CURVES[algorithm][0]))
        raise KeyError(algorithm)

    @staticmethod
    def from_import(algorithm: int, fields: dict[int, bytes]) -> "CardKey":
        """Yubico IMPORT KEY: RSA as 01 p, 02 q, 03 dp, 04 dq, 05 qinv; EC as 06 scalar."""
        if algorithm in RSA_BITS:
            p, q, dp, dq, qinv = (int.from_bytes(fields[t], "big") for t in (1, 2, 3, 4, 5))
            # The public exponent is not sent: recover it from dp (e < p-1 for any sane key).
            e = pow(dp, -1, p - 1)
            if pow(dq, -1, q - 1) != e:
                e = 65537
            d = pow(e, -1, (p - 1) * (q - 1))
            public = rsa.RSAPublicNumbers(e, p * q)
            key = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qinv, public).private_key()
            if key.key_size != RSA_BITS[algorithm]:
                raise ValueError("key size does not match the algorithm")
            return CardKey(algorithm, key)
        if algorithm in EC_CURVES:
            scalar = int.from_bytes(fields[6], "big")
            return CardKey(algorithm, ec.derive_private_key(scalar, EC_CURVES[algorithm][0]))
        raise KeyError(algorithm)

    # Public key as GENERATE ASYMMETRIC KEY returns it (inside 7F49) -----------------------------
    def public_key_template(self) -> bytes:
        public = self.private_key.public_key()
        if self.algorithm in RSA_BITS:
            n = public.public_numbers()
            return (tlv.tlv(0x81, n.n.to_bytes(self.size, "big"))
                    + tlv.tlv(0x82, n.e.to_bytes((n.e.bit_length() + 7) // 8, "big")))
        point = public.public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
        return tlv.tlv(0x86, point)

    # Private-key operations -----------------------------------------------------------------
    def raw_rsa(self, block: bytes) -> bytes:
        """m^d mod n on a block the host has already padded (PKCS#1 or PSS): what PIV does."""
        if len(block) != self.size:
            raise ValueError("block length must equal the modulus length")
        m = int.from_bytes(block, "big")
        if m >= self._n:
            raise ValueError("block not below the modulus")
        if self._fast is not None:
            return self._fast.private_op(block)
        m1 = pow(m % self._p, self._dp, self._p)
        m2 = pow(m % self._q, self._dq, self._q)
        h = (self._qinv * (m1 - m2)) % self._p
        return (m2 + h * self._q).to_bytes(self.size, "big")

    def ecdsa(self, digest: bytes) -> bytes:
        """DER ECDSA-Sig-Value over a hash; like a real card, shorter input is taken as the
        integer it encodes (left-pad) and longer input is cut to the field size."""
        curve, hash_alg, size = EC_CURVES[self.algorithm]
        digest = digest[:size].rjust(size, b"\0")
        return self.private_key.sign(digest, ec.ECDSA(Prehashed(hash_alg)))

    def ecdh(self, peer_point: bytes) -> bytes:
        curve = EC_CURVES[self.algorithm][0]
        peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, peer_point)
        return self.private_key.exchange(ec.ECDH(), peer)


def block_cipher(algorithm: int, key: bytes, encrypt: bool, block: bytes) -> bytes:
    """One ECB block with the management key: the card's side of the PIV challenge-response."""
    if algorithm == ALG_3DES:
        algo = TripleDES(key)
    else:
        algo = algorithms.AES(key)
    cipher = Cipher(algo, modes.ECB())
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(block) + op.finalize()


def block_size(algorithm: int) -> int:
    return 8 if algorithm == ALG_3DES else 16
