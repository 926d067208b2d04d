#!/usr/bin/env python3
"""Independent reference for the known answers in tests/test_crypto.c.

Written from docs/protocol.md ("Security"), not from the C code, with
python3's `cryptography` package (OpenSSL underneath): X25519, Ed25519,
HKDF-SHA-256 and AES-256-GCM come from there, only the framing is here.
Run it and compare its output with the hex strings in test_crypto.c;
they were produced by the C implementation and must match this byte for
byte. Not run by `make check` (python3-cryptography is not a build
dependency).
"""
import hashlib
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RAW = serialization.Encoding.Raw
RAWPUB = serialization.PublicFormat.Raw
REC = 65536


def seq(start):
    return bytes((start + i) & 0xff for i in range(32))


def x25519_pub(sec):
    return X25519PrivateKey.from_private_bytes(sec).public_key() \
        .public_bytes(RAW, RAWPUB)


def ed25519_pub(seed):
    return Ed25519PrivateKey.from_private_bytes(seed).public_key() \
        .public_bytes(RAW, RAWPUB)


def bind(sid, content, name, size):
    out = b""
    for s in (sid, content, name):
        out += struct.pack(">I", len(s)) + s
    return out + struct.pack(">Q", size)


def file_keys(shared, eph_pub, peer_pub, b):
    info = b"xmpp-sync jet 0 file key\0" + b
    okm = HKDF(algorithm=hashes.SHA256(), length=44, salt=eph_pub + peer_pub,
               info=info).derive(shared)
    return okm[:32], okm[32:]


def nonce(base, i):
    tail = int.from_bytes(base[4:], "big") ^ i
    return base[:4] + tail.to_bytes(8, "big")


def ad(i, final):
    return struct.pack(">QB", i, 1 if final else 0)


def encrypt_file(key, base, plain):
    g = AESGCM(key)
    out, i = b"", 0
    while True:
        chunk = plain[i * REC:(i + 1) * REC]
        final = len(chunk) < REC
        out += g.encrypt(nonce(base, i), chunk, ad(i, final))
        i += 1
        if final:
            return out


def main():
    master_x, master_ed = seq(0x10), seq(0x20)
    slave_x, eph = seq(0x40), seq(0x80)
    mx, med, sx = x25519_pub(master_x), ed25519_pub(master_ed), \
        x25519_pub(slave_x)
    print("master x25519 pub ", mx.hex())
    print("master ed25519 pub", med.hex())
    print("slave x25519 pub  ", sx.hex())
    fpr = hashlib.sha256(mx + med).hexdigest()
    print("master fingerprint", " ".join(fpr[i:i + 8] for i in range(0, 64, 8)))

    b = bind(b"sid-0123", b"c1", b"docs/report.pdf", 70000)
    print("bind              ", b.hex())
    eph_pub = x25519_pub(eph)
    shared = X25519PrivateKey.from_private_bytes(eph).exchange(
        X25519PublicKey.from_public_bytes(sx))
    key, base = file_keys(shared, eph_pub, sx, b)
    print("eph pub           ", eph_pub.hex())
    print("shared            ", shared.hex())
    print("file key          ", key.hex())
    print("nonce base        ", base.hex())
    msg = b"xmpp-sync jet 0 envelope\0" + eph_pub + sx + b
    sig = Ed25519PrivateKey.from_private_bytes(master_ed).sign(msg)
    print("envelope msg sha256", hashlib.sha256(msg).hexdigest())
    print("signature         ", sig.hex())
    import base64
    print("envelope base64   ", base64.b64encode(eph_pub + sig).decode())
    print("nonce(base, 0x0102030405060708)",
          nonce(base, 0x0102030405060708).hex())
    print("ad(5, final)      ", ad(5, True).hex())

    plain = bytes((i * 7 + 3) & 0xff for i in range(70000))
    ct = encrypt_file(key, base, plain)
    print("ciphertext len    ", len(ct))
    print("ciphertext sha256 ", hashlib.sha256(ct).hexdigest())
    print("record 0 head     ", ct[:16].hex())
    print("record 0 tag      ", ct[REC:REC + 16].hex())
    print("record 1 (final)  ", ct[REC + 16:REC + 32].hex(), "... tag",
          ct[-16:].hex())
    empty = encrypt_file(key, base, b"")
    print("empty file        ", empty.hex())


def x25519(sec, pub):
    return X25519PrivateKey.from_private_bytes(sec).exchange(
        X25519PublicKey.from_public_bytes(pub))


def lv(s):
    return struct.pack(">I", len(s)) + s


def channel():
    """The peer channel ("Peer channel" in docs/protocol.md)."""
    i_x, r_x = seq(0x10), seq(0x40)          # static X25519 secrets
    i_e, r_e = seq(0x80), seq(0xa0)          # ephemeral secrets
    ijid, rjid = b"m@xs.test", b"s@xs.test"
    si, sr = x25519_pub(i_x), x25519_pub(r_x)
    ei, er = x25519_pub(i_e), x25519_pub(r_e)
    print("channel EI        ", ei.hex())
    print("channel ER        ", er.hex())
    h = hashlib.sha256(b"xmpp-sync channel 0\0" + lv(ijid) + lv(rjid) +
                       si + sr + ei + er).digest()
    print("channel h         ", h.hex())
    ikm = x25519(i_e, er) + x25519(i_e, sr) + x25519(i_x, er) + \
        x25519(i_x, sr)
    # the responder's view of the same four products
    assert ikm == x25519(r_e, ei) + x25519(r_x, ei) + x25519(r_e, si) + \
        x25519(r_x, si)
    okm = HKDF(algorithm=hashes.SHA256(), length=80, salt=h,
               info=b"xmpp-sync channel 0 keys").derive(ikm)
    k_ir, k_ri, session = okm[:32], okm[32:64], okm[64:]
    print("channel k_ir      ", k_ir.hex())
    print("channel k_ri      ", k_ri.hex())
    print("channel session   ", session.hex())

    def seal(key, frm, to, typ, iqid, n, plain):
        ad = b"xmpp-sync sealed 0\0" + lv(frm) + lv(to) + lv(typ) + \
            lv(iqid) + session + struct.pack(">Q", n)
        nonce = b"\0\0\0\0" + struct.pack(">Q", n)
        return session + struct.pack(">Q", n) + \
            AESGCM(key).encrypt(nonce, plain, ad)

    import base64
    m1 = seal(k_ir, ijid, rjid, b"get", b"xs-1", 1,
              b"<hello xmlns='urn:xmpp-sync:meta:0'/>")
    print("sealed i->r 1     ", base64.b64encode(m1).decode())
    conf = seal(k_ri, rjid, ijid, b"result", b"ch-1", 1, b"")
    print("confirm r->i 1    ", base64.b64encode(conf).decode())

    # the rest of the example exchange in docs/protocol.md, section 4
    print("example EI base64 ", base64.b64encode(ei).decode())
    print("example ER base64 ", base64.b64encode(er).decode())
    hi = hashlib.sha256(b"hi\n").hexdigest()
    for key, frm, to, typ, iqid, n, plain in (
            (k_ri, rjid, ijid, b"result", b"xs-1", 2,
             b'<hello xmlns="urn:xmpp-sync:meta:0" state="ok" seq="41"/>'),
            (k_ir, ijid, rjid, b"set", b"xs-2", 2,
             b'<sync xmlns="urn:xmpp-sync:meta:0"><op k="put" p="hi.txt" '
             b's="3" w="xs-5f1c3e0a9b7d24e68a0c1f3b5d7e9a2c" h="' +
             hi.encode() + b'" m="644" t="1795640000000000000" q="42"/>'
             b'</sync>'),
            (k_ri, rjid, ijid, b"result", b"xs-2", 3,
             b'<sync xmlns="urn:xmpp-sync:meta:0"><r i="0" s="need"/>'
             b'</sync>')):
        print("example %s %s %d" % (typ.decode(), iqid.decode(), n),
              base64.b64encode(seal(key, frm, to, typ, iqid, n,
                                    plain)).decode())


if __name__ == "__main__":
    main()
    channel()
