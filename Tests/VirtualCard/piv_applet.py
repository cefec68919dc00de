"""The PIV applet (NIST SP 800-73-4 part 2) with the Yubico extensions ykcs11 and
yubico-piv-tool use. Takes raw command APDUs, returns raw response APDUs.

What a session (power-on to power-off) remembers lives here; what the card remembers across
pulls lives in CardState.
"""
import hmac
import os

import apdu
import tlv
from apdu import CardError
from card_state import DEFAULT_MGM_KEY, DEFAULT_PIN, DEFAULT_PUK, CardState
from piv_keys import (ALG_3DES, EC_CURVES, RSA_BITS, SYMMETRIC_KEY_LENGTHS, CardKey,
                      block_cipher, block_size)

PIV_AID = bytes.fromhex("A000000308000010000100")
YUBICO_MGMT_AID = bytes.fromhex("A000000527471117")

INS_VERIFY = 0x20
INS_CHANGE_REFERENCE = 0x24
INS_RESET_RETRY = 0x2C
INS_GENERATE = 0x47
INS_GENERAL_AUTHENTICATE = 0x87
INS_SELECT = 0xA4
INS_GET_RESPONSE = 0xC0
INS_GET_DATA = 0xCB
INS_PUT_DATA = 0xDB
# Yubico extensions (developers.yubico.com/PIV/Introduction/Yubico_extensions.html)
INS_GET_METADATA = 0xF7
INS_GET_SERIAL = 0xF8
INS_ATTEST = 0xF9
INS_SET_PIN_RETRIES = 0xFA
INS_RESET = 0xFB
INS_GET_VERSION = 0xFD
INS_IMPORT_KEY = 0xFE
INS_SET_MGMKEY = 0xFF

KEY_PIN = 0x80
KEY_PUK = 0x81
KEY_MGM = 0x9B
KEY_SLOTS = {0x9A, 0x9C, 0x9D, 0x9E, 0xF9} | set(range(0x82, 0x96))

PIN_POLICY_DEFAULT, PIN_POLICY_NEVER, PIN_POLICY_ONCE, PIN_POLICY_ALWAYS = 0, 1, 2, 3
TOUCH_POLICY_NEVER = 1
ORIGIN_GENERATED, ORIGIN_IMPORTED = 1, 2

# What a YubiKey does for PIN policy "default" in each slot.
DEFAULT_PIN_POLICY = {0x9A: PIN_POLICY_ONCE, 0x9C: PIN_POLICY_ALWAYS, 0x9D: PIN_POLICY_ONCE,
                      0x9E: PIN_POLICY_NEVER, 0xF9: PIN_POLICY_NEVER}

# Data objects that SP 800-73-4 puts behind the PIN (Yubico keeps its PIN-protected
# management key in Printed Information).
PIN_PROTECTED_OBJECTS = {"5fc103", "5fc108", "5fc109", "5fc121"}

SHORT_RESPONSE_MAX = 256


def _unpad_pin(field: bytes) -> bytes:
    return field.rstrip(b"\xff")


class PIVApplet:
    def __init__(self, state: CardState, log=None):
        self.state = state
        self.log = log
        self.keys: dict[int, CardKey] = {}
        self.reload()
        self.power_cycle()

    # Card lifecycle --------------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read the persistent state (after a re-insertion the file is the truth)."""
        self.state.load()
        self.keys = {}
        for slot_hex, entry in self.state["keys"].items():
            self.keys[int(slot_hex, 16)] = CardKey.from_pkcs8_hex(entry["algorithm"],
                                                                  entry["pkcs8"])

    def power_cycle(self) -> None:
        """Forget everything a power-off forgets: security status, chains, pending output."""
        self.selected = "piv"  # PIV is the default application, as the spec asks
        self._reset_security()
        self.chain_ins = None
        self.chain_data = b""
        self.pending = b""

    def _reset_security(self) -> None:
        self.pin_verified = False
        self.pin_fresh = False  # a VERIFY not yet spent by a PIN-always key
        self.mgm_authenticated = False
        self.mgm_witness = None
        self.mgm_challenge = None

    # APDU entry point -------------------------------------------------------------------------
    def process(self, raw: bytes) -> bytes:
        try:
            cmd = apdu.parse(raw)
            if cmd.ins != INS_GET_RESPONSE:
                self.pending = b""
            if cmd.chained:
                if self.chain_ins not in (None, cmd.ins):
                    self.chain_ins, self.chain_data = None, b""
                    raise CardError(apdu.SW_CONDITIONS)
                self.chain_ins = cmd.ins
                self.chain_data += cmd.data
                return b"\x90\x00"
            if self.chain_ins is not None:
                if self.chain_ins != cmd.ins:
                    self.chain_ins, self.chain_data = None, b""
                    raise CardError(apdu.SW_CONDITIONS)
                cmd.data = self.chain_data + cmd.data
                self.chain_ins, self.chain_data = None, b""
            data = self._dispatch(cmd)
            return self._respond(data, cmd.extended)
        except CardError as e:
            return e.sw.to_bytes(2, "big")
        except (ValueError, KeyError, IndexError):
            return apdu.SW_INCORRECT_DATA.to_bytes(2, "big")

    def _respond(self, data: bytes, extended: bool) -> bytes:
        # Short APDUs get at most 256 bytes; the rest waits for GET RESPONSE (61xx), which is
        # how libykpiv and OpenSC read certificates and RSA public keys.
        if extended or len(data) <= SHORT_RESPONSE_MAX:
            return data + b"\x90\x00"
        self.pending = data[SHORT_RESPONSE_MAX:]
        return data[:SHORT_RESPONSE_MAX] + bytes([0x61, min(len(self.pending), 256) & 0xFF])

    def _dispatch(self, cmd: apdu.Command) -> bytes:
        if cmd.cla & ~0x10 not in (0x00,):
            raise CardError(apdu.SW_CLA_NOT_SUPPORTED)
        if cmd.ins == INS_SELECT:
            return self._select(cmd)
        if cmd.ins == INS_GET_RESPONSE:
            if not self.pending:
                raise CardError(apdu.SW_CONDITIONS)
            data, self.pending = self.pending, b""
            return data
        if self.selected != "piv":
            raise CardError(apdu.SW_INS_NOT_SUPPORTED)
        handler = {
            INS_VERIFY: self._verify,
            INS_CHANGE_REFERENCE: self._change_reference,
            INS_RESET_RETRY: self._reset_retry,
            INS_GENERATE: self._generate,
            INS_GENERAL_AUTHENTICATE: self._general_authenticate,
            INS_GET_DATA: self._get_data,
            INS_PUT_DATA: self._put_data,
            INS_GET_METADATA: self._get_metadata,
            INS_GET_SERIAL: lambda c: self.state["serial"].to_bytes(4, "big"),
            INS_GET_VERSION: lambda c: bytes(self.state["version"]),
            INS_SET_PIN_RETRIES: self._set_pin_retries,
            INS_RESET: self._factory_reset,
            INS_IMPORT_KEY: self._import_key,
            INS_SET_MGMKEY: self._set_mgm_key,
        }.get(cmd.ins)
        if handler is None:  # includes ATTEST: ykcs11 then falls back to GET METADATA
            raise CardError(apdu.SW_INS_NOT_SUPPORTED)
        return handler(cmd)

    # SELECT -----------------------------------------------------------------------------------
    def _select(self, cmd) -> bytes:
        if cmd.p1 != 0x04:
            raise CardError(apdu.SW_INCORRECT_P1P2)
        aid = cmd.data
        if len(aid) >= 5 and PIV_AID.startswith(aid):
            self.selected = "piv"
            self._reset_security()  # re-selecting logs out, as on a YubiKey
            return tlv.tlv(0x61, tlv.tlv(0x4F, PIV_AID[5:])
                           + tlv.tlv(0x79, tlv.tlv(0x4F, PIV_AID[:5]))
                           + tlv.tlv(0x50, b"CertBridge Virtual PIV"))
        if aid == YUBICO_MGMT_AID:
            # libykpiv selects this to drop the PIV login before reading the PIN counter.
            self.selected = "mgmt"
            self._reset_security()
            return ".".join(str(v) for v in self.state["version"]).encode()
        raise CardError(apdu.SW_NOT_FOUND)

    # PIN and PUK ------------------------------------------------------------------------------
    def _counter_names(self, ref: int) -> tuple[str, str, str]:
        if ref == KEY_PIN:
            return "pin", "pin_tries", "pin_tries_max"
        if ref == KEY_PUK:
            return "puk", "puk_tries", "puk_tries_max"
        raise CardError(apdu.SW_REF_NOT_FOUND)

    def _check_reference(self, ref: int, candidate: bytes) -> None:
        """Compare a PIN or PUK, counting down on a miss; raises with 63Cx or 6983."""
        secret, tries, _ = self._counter_names(ref)
        if self.state[tries] == 0:
            raise CardError(apdu.SW_AUTH_BLOCKED)
        if hmac.compare_digest(_unpad_pin(candidate), self.state[secret].encode()):
            self.state[tries] = self.state[self._counter_names(ref)[2]]
            self.state.save()
            return
        self.state[tries] -= 1
        self.state.save()
        if self.state[tries] == 0:
            raise CardError(apdu.SW_AUTH_BLOCKED)
        raise CardError(0x63C0 | min(self.state[tries], 15))

    def _verify(self, cmd) -> bytes:
        if cmd.p2 != KEY_PIN:
            raise CardError(apdu.SW_REF_NOT_FOUND)
        if cmd.p1 == 0xFF:  # explicit logout (SP 800-73-4 3.2.1)
            self.pin_verified = self.pin_fresh = False
            return b""
        if not cmd.data:  # status query
            if self.pin_verified:
                return b""
            if self.state["pin_tries"] == 0:
                raise CardError(apdu.SW_AUTH_BLOCKED)
            raise CardError(0x63C0 | min(self.state["pin_tries"], 15))
        if len(cmd.data) != 8:
            raise CardError(apdu.SW_WRONG_LENGTH)
        try:
            self._check_reference(KEY_PIN, cmd.data)
        except CardError:
            self.pin_verified = self.pin_fresh = False
            raise
        self.pin_verified = self.pin_fresh = True
        return b""

    @staticmethod
    def _valid_new_value(value: bytes) -> bytes:
        value = _unpad_pin(value)
        if not 6 <= len(value) <= 8:
            raise CardError(apdu.SW_INCORRECT_DATA)
        return value

    def _change_reference(self, cmd) -> bytes:
        if len(cmd.data) != 16:
            raise CardError(apdu.SW_WRONG_LENGTH)
        secret, _, _ = self._counter_names(cmd.p2)
        new = self._valid_new_value(cmd.data[8:])
        self._check_reference(cmd.p2, cmd.data[:8])
        self.state[secret] = new.decode("latin-1")
        self.state.save()
        if cmd.p2 == KEY_PIN:
            self.pin_verified = self.pin_fresh = True
        return b""

    def _reset_retry(self, cmd) -> bytes:
        if cmd.p2 != KEY_PIN:
            raise CardError(apdu.SW_REF_NOT_FOUND)
        if len(cmd.data) != 16:
            raise CardError(apdu.SW_WRONG_LENGTH)
        new = self._valid_new_value(cmd.data[8:])
        self._check_reference(KEY_PUK, cmd.data[:8])
        self.state["pin"] = new.decode("latin-1")
        self.state["pin_tries"] = self.state["pin_tries_max"]
        self.state.save()
        return b""

    def _set_pin_retries(self, cmd) -> bytes:
        self._require_mgm()
        if not self.pin_verified:
            raise CardError(apdu.SW_SECURITY_STATUS)
        if not (1 <= cmd.p1 <= 15 and 1 <= cmd.p2 <= 15):
            raise CardError(apdu.SW_INCORRECT_P1P2)
        # Yubico: new counters also put PIN and PUK back to their defaults.
        self.state.data.update(pin=DEFAULT_PIN, puk=DEFAULT_PUK,
                               pin_tries_max=cmd.p1, pin_tries=cmd.p1,
                               puk_tries_max=cmd.p2, puk_tries=cmd.p2)
        self.state.save()
        return b""

    def _factory_reset(self, cmd) -> bytes:
        if self.state["pin_tries"] != 0 or self.state["puk_tries"] != 0:
            raise CardError(apdu.SW_CONDITIONS)  # Yubico: only with PIN and PUK blocked
        self.state.reset_to_factory()
        self.keys = {}
        self._reset_security()
        return b""

    # Management key ---------------------------------------------------------------------------
    def _require_mgm(self) -> None:
        if not self.mgm_authenticated:
            raise CardError(apdu.SW_SECURITY_STATUS)

    def _mgm_cipher(self, encrypt: bool, block: bytes) -> bytes:
        return block_cipher(self.state["mgm_algorithm"], bytes.fromhex(self.state["mgm_key"]),
                            encrypt, block)

    def _authenticate_mgm(self, cmd, fields: dict[int, bytes]) -> bytes:
        algorithm = self.state["mgm_algorithm"]
        if cmd.p1 not in (algorithm, 0x00 if algorithm == ALG_3DES else algorithm):
            raise CardError(apdu.SW_INCORRECT_P1P2)
        size = block_size(algorithm)
        witness, challenge, response = fields.get(0x80), fields.get(0x81), fields.get(0x82)
        if witness == b"" and challenge is None:
            # Step 1 of mutual authentication: hand out an encrypted witness.
            self.mgm_witness = os.urandom(size)
            return tlv.tlv(0x7C, tlv.tlv(0x80, self._mgm_cipher(True, self.mgm_witness)))
        if witness and challenge is not None:
            # Step 2: the host proved it could decrypt the witness; answer its challenge.
            expected, self.mgm_witness = self.mgm_witness, None
            if expected is None or not hmac.compare_digest(witness, expected) \
                    or len(challenge) != size:
                self.mgm_authenticated = False
                raise CardError(apdu.SW_SECURITY_STATUS)
            self.mgm_authenticated = True
            return tlv.tlv(0x7C, tlv.tlv(0x82, self._mgm_cipher(True, challenge)))
        if challenge == b"" and response is None:
            # Challenge-response, step 1: the card's challenge.
            self.mgm_challenge = os.urandom(size)
            return tlv.tlv(0x7C, tlv.tlv(0x81, self.mgm_challenge))
        if response and challenge is None:
            expected, self.mgm_challenge = self.mgm_challenge, None
            if expected is None or not hmac.compare_digest(response,
                                                           self._mgm_cipher(True, expected)):
                self.mgm_authenticated = False
                raise CardError(apdu.SW_SECURITY_STATUS)
            self.mgm_authenticated = True
            return b""
        if challenge and response == b"":
            # The host authenticates the card; this proves nothing about the host.
            return tlv.tlv(0x7C, tlv.tlv(0x82, self._mgm_cipher(True, challenge)))
        raise CardError(apdu.SW_INCORRECT_DATA)

    def _set_mgm_key(self, cmd) -> bytes:
        self._require_mgm()
        if cmd.p1 != 0xFF or cmd.p2 not in (0xFF, 0xFE):
            raise CardError(apdu.SW_INCORRECT_P1P2)
        algorithm, ref, length = cmd.data[0], cmd.data[1], cmd.data[2]
        key = cmd.data[3:3 + length]
        if ref != KEY_MGM or SYMMETRIC_KEY_LENGTHS.get(algorithm) != len(key):
            raise CardError(apdu.SW_INCORRECT_DATA)
        self.state["mgm_algorithm"] = algorithm
        self.state["mgm_key"] = key.hex()
        self.state.save()
        return b""

    # Data objects -----------------------------------------------------------------------------
    @staticmethod
    def _object_tag(data: bytes) -> tuple[str, bytes]:
        """The 5C tag list (one object) and what follows it."""
        items = tlv.parse(data)
        if not items or items[0][0] != 0x5C:
            raise CardError(apdu.SW_INCORRECT_DATA)
        tag = items[0][1]
        if len(tag) not in (1, 2, 3):
            raise CardError(apdu.SW_NOT_FOUND)
        rest = data[len(tlv.tlv(0x5C, tag)):]
        return tag.hex(), rest

    def _get_data(self, cmd) -> bytes:
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF):
            raise CardError(apdu.SW_INCORRECT_P1P2)
        tag, _ = self._object_tag(cmd.data)
        if tag in PIN_PROTECTED_OBJECTS and not self.pin_verified:
            raise CardError(apdu.SW_SECURITY_STATUS)
        value = self.state["objects"].get(tag)
        if value is None:
            raise CardError(apdu.SW_NOT_FOUND)
        value = bytes.fromhex(value)
        if tag in ("7e", "7f61"):  # these two are their own templates, not wrapped in 53
            return value
        return tlv.tlv(0x53, value)

    def _put_data(self, cmd) -> bytes:
        if (cmd.p1, cmd.p2) != (0x3F, 0xFF):
            raise CardError(apdu.SW_INCORRECT_P1P2)
        self._require_mgm()
        tag, rest = self._object_tag(cmd.data)
        objects = self.state["objects"]
        if tag in ("7e", "7f61"):
            objects[tag] = rest.hex()
        else:
            items = tlv.parse(rest)
            if len(items) != 1 or items[0][0] != 0x53:
                raise CardError(apdu.SW_INCORRECT_DATA)
            if items[0][1]:
                objects[tag] = items[0][1].hex()
            else:  # an empty 53 deletes the object (libykpiv's delete-certificate)
                objects.pop(tag, None)
        self.state.save()
        return b""

    # Keys -------------------------------------------------------------------------------------
    def _store_key(self, slot: int, key: CardKey, pin_policy: int, touch_policy: int,
                   origin: int) -> None:
        if pin_policy == PIN_POLICY_DEFAULT:
            pin_policy = DEFAULT_PIN_POLICY.get(slot, PIN_POLICY_ONCE)
        if touch_policy == 0:
            touch_policy = TOUCH_POLICY_NEVER
        self.keys[slot] = key
        self.state["keys"][f"{slot:02x}"] = {
            "algorithm": key.algorithm, "pin_policy": pin_policy,
            "touch_policy": touch_policy, "origin": origin, "pkcs8": key.to_pkcs8_hex()}
        self.state.save()

    @staticmethod
    def _policies(fields: dict[int, bytes]) -> tuple[int, int]:
        pin = fields.get(0xAA, b"\x00")[0]
        touch = fields.get(0xAB, b"\x00")[0]
        if pin not in (0, 1, 2, 3) or touch not in (0, 1, 2, 3):
            raise CardError(apdu.SW_INCORRECT_DATA)
        return pin, touch

    def _generate(self, cmd) -> bytes:
        self._require_mgm()
        if cmd.p2 not in KEY_SLOTS:
            raise CardError(apdu.SW_INCORRECT_P1P2)
        template = tlv.find(cmd.data, 0xAC)
        if template is None:
            raise CardError(apdu.SW_INCORRECT_DATA)
        fields = dict(tlv.parse(template))
        algorithm = fields.get(0x80, b"\x00")[0]
        if algorithm not in RSA_BITS and algorithm not in EC_CURVES:
            raise CardError(apdu.SW_INCORRECT_DATA)
        pin, touch = self._policies(fields)
        key = CardKey.generate(algorithm)
        self._store_key(cmd.p2, key, pin, touch, ORIGIN_GENERATED)
        return tlv.tlv(0x7F49, key.public_key_template())

    def _import_key(self, cmd) -> bytes:
        self._require_mgm()
        if cmd.p2 not in KEY_SLOTS:
            raise CardError(apdu.SW_INCORRECT_P1P2)
        if cmd.p1 not in RSA_BITS and cmd.p1 not in EC_CURVES:
            raise CardError(apdu.SW_INCORRECT_P1P2)
        fields = dict(tlv.parse(cmd.data))
        pin, touch = self._policies(fields)
        key = CardKey.from_import(cmd.p1, fields)
        self._store_key(cmd.p2, key, pin, touch, ORIGIN_IMPORTED)
        return b""

    def _require_pin_policy(self, slot: int) -> None:
        policy = self.state["keys"][f"{slot:02x}"]["pin_policy"]
        if policy == PIN_POLICY_NEVER:
            return
        if policy == PIN_POLICY_ALWAYS:
            # Every private-key operation spends one VERIFY.
            if not self.pin_fresh:
                raise CardError(apdu.SW_SECURITY_STATUS)
            self.pin_fresh = False
            return
        if not self.pin_verified:
            raise CardError(apdu.SW_SECURITY_STATUS)

    def _general_authenticate(self, cmd) -> bytes:
        template = tlv.find(cmd.data, 0x7C)
        if template is None:
            raise CardError(apdu.SW_INCORRECT_DATA)
        fields = dict(tlv.parse(template))
        if cmd.p2 == KEY_MGM:
            return self._authenticate_mgm(cmd, fields)
        key = self.keys.get(cmd.p2)
        if key is None:
            raise CardError(apdu.SW_REF_NOT_FOUND)
        if cmd.p1 != key.algorithm:
            raise CardError(apdu.SW_INCORRECT_P1P2)
        if fields.get(0x82) != b"":
            raise CardError(apdu.SW_INCORRECT_DATA)
        challenge, point = fields.get(0x81), fields.get(0x85)
        if challenge is None and point is None:
            raise CardError(apdu.SW_INCORRECT_DATA)
        if key.algorithm in RSA_BITS and challenge is not None \
                and len(challenge) != key.size:
            raise CardError(apdu.SW_INCORRECT_DATA)
        self._require_pin_policy(cmd.p2)
        if key.algorithm in RSA_BITS:
            if challenge is None:
                raise CardError(apdu.SW_INCORRECT_DATA)
            result = key.raw_rsa(challenge)  # signature and decryption are the same operation
        elif point is not None:
            result = key.ecdh(point)
        else:
            result = key.ecdsa(challenge)
        return tlv.tlv(0x7C, tlv.tlv(0x82, result))

    # Yubico GET METADATA ----------------------------------------------------------------------
    def _get_metadata(self, cmd) -> bytes:
        ref = cmd.p2
        if ref in (KEY_PIN, KEY_PUK):
            secret, tries, tries_max = self._counter_names(ref)
            default = DEFAULT_PIN if ref == KEY_PIN else DEFAULT_PUK
            return (tlv.tlv(0x01, b"\xff")
                    + tlv.tlv(0x05, bytes([self.state[secret] == default]))
                    + tlv.tlv(0x06, bytes([self.state[tries_max], self.state[tries]])))
        if ref == KEY_MGM:
            return (tlv.tlv(0x01, bytes([self.state["mgm_algorithm"]]))
                    + tlv.tlv(0x02, bytes([0x00, TOUCH_POLICY_NEVER]))
                    + tlv.tlv(0x05, bytes([self.state["mgm_key"] == DEFAULT_MGM_KEY])))
        if ref not in KEY_SLOTS:
            raise CardError(apdu.SW_INCORRECT_P1P2)
        key = self.keys.get(ref)
        if key is None:
            raise CardError(apdu.SW_REF_NOT_FOUND)
        entry = self.state["keys"][f"{ref:02x}"]
        return (tlv.tlv(0x01, bytes([key.algorithm]))
                + tlv.tlv(0x02, bytes([entry["pin_policy"], entry["touch_policy"]]))
                + tlv.tlv(0x03, bytes([entry["origin"]]))
                + tlv.tlv(0x04, key.public_key_template()))
