"""Self-tests of the virtual card's PIV applet, without pcscd: the paths OpenSC, ykcs11 and
yubico-piv-tool do not reach in the Swift tests (AES management keys, command chaining, GET
RESPONSE, metadata, factory reset) and the correctness of its signatures.

    /usr/bin/python3 -m unittest discover -s Tests/VirtualCard
"""
import os
import tempfile
import unittest

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

import tlv
from card_state import CardState, DEFAULT_MGM_KEY
from piv_applet import PIVApplet
from piv_keys import ALG_3DES, ALG_AES128, block_cipher

SELECT = bytes.fromhex("00A4040005A000000308")


def verify_apdu(pin: str) -> bytes:
    return bytes.fromhex("0020008008") + pin.encode().ljust(8, b"\xff")


class AppletTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.directory.name, "card.json")
        self.applet = PIVApplet(CardState(self.path))

    def tearDown(self):
        self.directory.cleanup()

    def send(self, hex_or_bytes) -> tuple[bytes, int]:
        raw = bytes.fromhex(hex_or_bytes) if isinstance(hex_or_bytes, str) else hex_or_bytes
        out = self.applet.process(raw)
        return out[:-2], int.from_bytes(out[-2:], "big")

    def send_all(self, hex_or_bytes) -> tuple[bytes, int]:
        """Sends and follows 61xx with GET RESPONSE, as hosts do for short APDUs."""
        data, sw = self.send(hex_or_bytes)
        while sw >> 8 == 0x61:
            more, sw = self.send("00C0000000")
            data += more
        return data, sw

    def authenticate(self, algorithm=ALG_3DES, key=bytes.fromhex(DEFAULT_MGM_KEY)):
        """PIV mutual authentication, the host's side (as libykpiv does it)."""
        block = 8 if algorithm == ALG_3DES else 16
        data, sw = self.send(bytes([0, 0x87, algorithm, 0x9B, 4, 0x7C, 2, 0x80, 0]))
        self.assertEqual(sw, 0x9000)
        witness = tlv.find(tlv.find(data, 0x7C), 0x80)
        decrypted = block_cipher(algorithm, key, False, witness)
        challenge = os.urandom(block)
        body = tlv.tlv(0x7C, tlv.tlv(0x80, decrypted) + tlv.tlv(0x81, challenge))
        data, sw = self.send(bytes([0, 0x87, algorithm, 0x9B, len(body)]) + body)
        self.assertEqual(sw, 0x9000)
        self.assertEqual(tlv.find(tlv.find(data, 0x7C), 0x82),
                         block_cipher(algorithm, key, True, challenge))

    def test_select_answers_with_the_application_template(self):
        data, sw = self.send(SELECT)
        self.assertEqual(sw, 0x9000)
        self.assertEqual(tlv.find(tlv.find(data, 0x61), 0x4F), bytes.fromhex("000010000100"))

    def test_put_data_needs_the_management_key(self):
        put = bytes.fromhex("00DB3FFF0A5C035FC1095303AABBCC")
        self.assertEqual(self.send(put)[1], 0x6982)
        self.authenticate()
        self.assertEqual(self.send(put)[1], 0x9000)

    def test_wrong_management_key_fails(self):
        with self.assertRaises(AssertionError):
            self.authenticate(key=bytes(24))

    def test_aes_management_key(self):
        self.authenticate()
        key = os.urandom(16)
        body = bytes([ALG_AES128, 0x9B, 16]) + key
        self.assertEqual(self.send(bytes([0, 0xFF, 0xFF, 0xFF, len(body)]) + body)[1], 0x9000)
        self.send(SELECT)  # re-selecting logs out
        self.authenticate(ALG_AES128, key)
        metadata, sw = self.send("00F7009B")
        self.assertEqual(tlv.find(metadata, 0x01), bytes([ALG_AES128]))
        self.assertEqual(tlv.find(metadata, 0x05), b"\x00")  # no longer the default key

    def test_large_object_by_chaining_and_get_response(self):
        self.authenticate()
        value = os.urandom(1500)
        body = tlv.tlv(0x5C, bytes.fromhex("5FC105")) + tlv.tlv(0x53, value)
        chunks = [body[i:i + 255] for i in range(0, len(body), 255)]
        for i, chunk in enumerate(chunks):
            cla = 0x10 if i < len(chunks) - 1 else 0x00
            self.assertEqual(self.send(bytes([cla, 0xDB, 0x3F, 0xFF, len(chunk)]) + chunk)[1],
                             0x9000)
        received, sw = self.send_all("00CB3FFF055C035FC10500")
        self.assertEqual(sw, 0x9000)
        self.assertEqual(tlv.find(received, 0x53), value)
        # An extended-length GET DATA gets it all at once.
        data, sw = self.send("00CB3FFF0000055C035FC1050000")
        self.assertEqual((tlv.find(data, 0x53), sw), (value, 0x9000))

    def test_generated_rsa_key_signs_correctly_and_reports_metadata(self):
        self.authenticate()
        body = tlv.tlv(0xAC, tlv.tlv(0x80, b"\x07") + tlv.tlv(0xAA, b"\x02"))
        template, sw = self.send(bytes([0, 0x47, 0, 0x9A, len(body)]) + body)
        self.assertEqual(sw >> 8, 0x61)  # 270 bytes do not fit a short response
        more, sw = self.send_all("00C0000000")
        template += more
        self.assertEqual(sw, 0x9000)
        fields = dict(tlv.parse(tlv.find(template, 0x7F49)))
        public = rsa.RSAPublicNumbers(int.from_bytes(fields[0x82], "big"),
                                      int.from_bytes(fields[0x81], "big")).public_key()
        digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)
        block = b"\x00\x01" + b"\xff" * (256 - 3 - len(digest_info)) + b"\x00" + digest_info
        general = tlv.tlv(0x7C, b"\x82\x00" + tlv.tlv(0x81, block))
        sign = bytes([0, 0x87, 0x07, 0x9A, 0]) + len(general).to_bytes(2, "big") + general + b"\0\0"
        self.assertEqual(self.send(sign)[1], 0x6982)  # PIN policy once: needs a VERIFY
        self.assertEqual(self.send(verify_apdu("123456"))[1], 0x9000)
        for _ in range(2):  # "once" lasts the session
            data, sw = self.send(sign)
            self.assertEqual(sw, 0x9000)
            signature = tlv.find(tlv.find(data, 0x7C), 0x82)
            public.verify(signature, bytes(32), padding.PKCS1v15(),
                          Prehashed(hashes.SHA256()))
        metadata, sw = self.send_all("00F7009A")
        self.assertEqual(tlv.find(metadata, 0x02), b"\x02\x01")  # once, touch never
        self.assertEqual(tlv.find(metadata, 0x03), b"\x01")  # generated on the card

    def test_imported_p384_key_signs_and_survives_reload(self):
        self.authenticate()
        key = ec.generate_private_key(ec.SECP384R1())
        scalar = key.private_numbers().private_value.to_bytes(48, "big")
        body = tlv.tlv(0x06, scalar) + tlv.tlv(0xAA, b"\x01")  # PIN policy never
        self.assertEqual(self.send(bytes([0, 0xFE, 0x14, 0x9E, len(body)]) + body)[1], 0x9000)
        self.applet = PIVApplet(CardState(self.path))  # a new process reading the same file
        digest = os.urandom(48)
        general = tlv.tlv(0x7C, b"\x82\x00" + tlv.tlv(0x81, digest))
        data, sw = self.send(bytes([0, 0x87, 0x14, 0x9E, len(general)]) + general)
        self.assertEqual(sw, 0x9000)
        signature = tlv.find(tlv.find(data, 0x7C), 0x82)
        key.public_key().verify(signature, digest, ec.ECDSA(Prehashed(hashes.SHA384())))
        metadata, _ = self.send("00F7009E")
        self.assertEqual(tlv.find(metadata, 0x03), b"\x02")  # imported

    def test_change_pin_and_puk_then_factory_reset_when_both_blocked(self):
        change = bytes.fromhex("0024008010") + b"123456\xff\xff" + b"654321\xff\xff"
        self.assertEqual(self.send(change)[1], 0x9000)
        self.assertEqual(self.send(verify_apdu("654321"))[1], 0x9000)
        self.assertEqual(self.send("00FB0000")[1], 0x6985)  # not while PIN and PUK work
        for _ in range(3):
            self.send(verify_apdu("000000"))
        for _ in range(3):
            self.send(bytes.fromhex("002C008010") + b"00000000" + b"111111\xff\xff")
        self.assertEqual(self.send(verify_apdu("654321"))[1], 0x6983)
        self.assertEqual(self.send("00FB0000")[1], 0x9000)
        self.assertEqual(self.send(verify_apdu("123456"))[1], 0x9000)

    def test_unknown_instruction(self):
        self.assertEqual(self.send("00F9009A00")[1], 0x6D00)  # no attestation


if __name__ == "__main__":
    unittest.main()
