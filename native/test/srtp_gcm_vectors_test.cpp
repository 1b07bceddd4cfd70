// AEAD_AES_128_GCM / AEAD_AES_256_GCM against RFC 7714: the reference (srtp_reference.hpp) reproduces the RFC's
// section 16 (SRTP) and 17 (SRTCP) packets from their session key and salt, then libsrtp's packets, from a master
// key, must equal the reference's under the session keys RFC 7714 section 11's KDF gives.
#include <catch2/catch.hpp>

#include <string>

#include "srtp_reference.hpp"
#include "srtp_session.hpp"

using namespace mra;
using namespace mra::testref;

namespace {

const Bytes kSalt = hex("517569642070726f2071756f");  // "Quid pro quo"
const Bytes kRtp = hex("8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976"
                       "69736120 696e2070 61727465 73207472 6573");
const Bytes kRtcp = hex("81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61"
                        "deadbeef deadbeef deadbeef deadbeef deadbeef");

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// RFC 7714 section 8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt; AAD = the RTP header.
Bytes sealRtp(const Bytes& key, const Bytes& salt, const Bytes& packet, uint32_t roc) {
  Bytes iv = salt;
  for (int i = 0; i < 4; ++i) iv[2 + i] ^= packet[8 + i];
  for (int i = 0; i < 4; ++i) iv[6 + i] ^= uint8_t(roc >> (24 - 8 * i));
  iv[10] ^= packet[2], iv[11] ^= packet[3];
  const Bytes header(packet.begin(), packet.begin() + 12);
  Bytes out = header;
  const Bytes sealed = gcmSeal(key, iv, header, Bytes(packet.begin() + 12, packet.end()));
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

// RFC 7714 section 9.1: IV = (00 00 || SSRC || 00 00 || SRTCP index) XOR salt; AAD = the first 8 octets and
// E || index; the packet ends header || ciphertext || tag || E || index.
Bytes sealRtcp(const Bytes& key, const Bytes& salt, const Bytes& packet, uint32_t index) {
  Bytes iv = salt;
  for (int i = 0; i < 4; ++i) iv[2 + i] ^= packet[4 + i];
  for (int i = 0; i < 4; ++i) iv[8 + i] ^= uint8_t(index >> (24 - 8 * i));
  const uint32_t eIndex = 0x80000000u | index;
  const Bytes trailer = {uint8_t(eIndex >> 24), uint8_t(eIndex >> 16), uint8_t(eIndex >> 8), uint8_t(eIndex)};
  Bytes aad(packet.begin(), packet.begin() + 8);
  aad.insert(aad.end(), trailer.begin(), trailer.end());
  Bytes out(packet.begin(), packet.begin() + 8);
  const Bytes sealed = gcmSeal(key, iv, aad, Bytes(packet.begin() + 8, packet.end()));
  out.insert(out.end(), sealed.begin(), sealed.end());
  out.insert(out.end(), trailer.begin(), trailer.end());
  return out;
}

}  // namespace

TEST_CASE("RFC 7714 section 16.1: AEAD_AES_128_GCM SRTP packet", "[srtp][rfc7714]") {
  const Bytes key = hex("000102030405060708090a0b0c0d0e0f");
  CHECK(sealRtp(key, kSalt, kRtp, 0) ==
        hex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f 42a5f47a"
            "51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce"));
}

TEST_CASE("RFC 7714 section 16.2: AEAD_AES_256_GCM SRTP packet", "[srtp][rfc7714]") {
  const Bytes key = hex("000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f");
  CHECK(sealRtp(key, kSalt, kRtp, 0) ==
        hex("8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa b1801238 9a58e2f3 b50b2a02"
            "76ffae0f 1ba63799 b87b7aa3 db36dfff d6b0f9bb 7878d7a7 6c13"));
}

TEST_CASE("RFC 7714 section 17.1: AEAD_AES_128_GCM SRTCP packet", "[srtp][rfc7714]") {
  const Bytes key = hex("000102030405060708090a0b0c0d0e0f");
  CHECK(sealRtcp(key, kSalt, kRtcp, 0x5d4) ==
        hex("81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d c676a5f1 730d6fda"
            "4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4"));
}

TEST_CASE("libsrtp's GCM packets are RFC 7714's, under section 11 session keys", "[srtp][rfc7714]") {
  for (const char* name : {"AEAD_AES_128_GCM", "AEAD_AES_256_GCM"}) {
    INFO(name);
    const SrtpSuiteInfo& suite = *findSrtpSuite(name);
    const size_t keyLength = suite.keySaltLength - 12;
    Bytes masterKey(keyLength), masterSalt = kSalt;
    for (size_t i = 0; i < keyLength; ++i) masterKey[i] = uint8_t(i);
    Bytes keySalt = masterKey;
    keySalt.insert(keySalt.end(), masterSalt.begin(), masterSalt.end());
    SrtpSession tx(suite, keySalt.data(), keySalt.size(), SrtpSession::Direction::Outbound);
    SrtpSession rx(suite, keySalt.data(), keySalt.size(), SrtpSession::Direction::Inbound);

    // RTP: session key label 0x00, session salt label 0x02 (96 bits).
    Bytes buf = kRtp;
    buf.resize(2048);
    size_t len = kRtp.size();
    REQUIRE(tx.protectRtp(buf.data(), len, buf.size()) == SrtpResult::Ok);
    const Bytes rtpOut(buf.begin(), buf.begin() + long(len));
    CHECK(rtpOut == sealRtp(kdf(masterKey, masterSalt, 0x00, keyLength), kdf(masterKey, masterSalt, 0x02, 12), kRtp, 0));
    // First, before the genuine packet makes its index a replay: the header is authenticated, not encrypted.
    Bytes forged = rtpOut;
    forged[5] ^= 1;
    size_t forgedLength = forged.size();
    CHECK(rx.unprotectRtp(forged.data(), forgedLength) == SrtpResult::AuthFail);
    REQUIRE(rx.unprotectRtp(buf.data(), len) == SrtpResult::Ok);
    CHECK(Bytes(buf.begin(), buf.begin() + long(len)) == kRtp);

    // SRTCP: labels 0x03 and 0x05; the index is whatever libsrtp sent, read back from the E || index word.
    buf = kRtcp;
    buf.resize(2048);
    len = kRtcp.size();
    REQUIRE(tx.protectRtcp(buf.data(), len, buf.size()) == SrtpResult::Ok);
    REQUIRE(len == kRtcp.size() + 16 + 4);
    const uint32_t index = be32(&buf[len - 4]) & 0x7fffffffu;
    CHECK(Bytes(buf.begin(), buf.begin() + long(len)) ==
          sealRtcp(kdf(masterKey, masterSalt, 0x03, keyLength), kdf(masterKey, masterSalt, 0x05, 12), kRtcp, index));
    REQUIRE(rx.unprotectRtcp(buf.data(), len) == SrtpResult::Ok);
    CHECK(Bytes(buf.begin(), buf.begin() + long(len)) == kRtcp);
  }
}
