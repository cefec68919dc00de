"""Raw RSA (no padding) through the system's libcrypto.

PIV cards compute m^d mod n on a block the host padded; `cryptography` offers no unpadded private
operation, and Python's own big-integer pow manages only ~45 RSA-2048 operations a second here,
which would make the virtual card, not the code under test, the bottleneck of every signing
benchmark. libcrypto does the same in well under a millisecond.
"""
import ctypes
import ctypes.util

_RSA_NO_PADDING = 3
_lib = None


def _load():
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("crypto") or "libcrypto.so.3"
        lib = ctypes.CDLL(name)
        lib.d2i_AutoPrivateKey.restype = ctypes.c_void_p
        lib.d2i_AutoPrivateKey.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                           ctypes.c_long]
        lib.EVP_PKEY_CTX_new.restype = ctypes.c_void_p
        lib.EVP_PKEY_CTX_new.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.EVP_PKEY_decrypt_init.argtypes = [ctypes.c_void_p]
        lib.EVP_PKEY_CTX_set_rsa_padding.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.EVP_PKEY_decrypt.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                         ctypes.POINTER(ctypes.c_size_t), ctypes.c_char_p,
                                         ctypes.c_size_t]
        lib.EVP_PKEY_CTX_free.argtypes = [ctypes.c_void_p]
        lib.EVP_PKEY_free.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


class RawRSA:
    """An RSA private key loaded into libcrypto, ready for unpadded private operations."""

    def __init__(self, der: bytes, size: int):
        lib = _load()
        buf = ctypes.c_char_p(der)
        self._pkey = lib.d2i_AutoPrivateKey(None, ctypes.byref(buf), len(der))
        if not self._pkey:
            raise ValueError("libcrypto could not read the key")
        self._ctx = lib.EVP_PKEY_CTX_new(self._pkey, None)
        if (not self._ctx or lib.EVP_PKEY_decrypt_init(self._ctx) <= 0
                or lib.EVP_PKEY_CTX_set_rsa_padding(self._ctx, _RSA_NO_PADDING) <= 0):
            self.close()
            raise ValueError("libcrypto could not set up raw RSA")
        self.size = size

    def private_op(self, block: bytes) -> bytes:
        out = ctypes.create_string_buffer(self.size)
        out_len = ctypes.c_size_t(self.size)
        if _load().EVP_PKEY_decrypt(self._ctx, out, ctypes.byref(out_len), block, len(block)) <= 0:
            raise ValueError("raw RSA failed")
        return out.raw[:out_len.value].rjust(self.size, b"\0")

    def close(self):
        lib = _load()
        if getattr(self, "_ctx", None):
            lib.EVP_PKEY_CTX_free(self._ctx)
            self._ctx = None
        if getattr(self, "_pkey", None):
            lib.EVP_PKEY_free(self._pkey)
            self._pkey = None

    def __del__(self):
        self.close()
