// SRTP against RFC 3711 appendix B: an independent reference (OpenSSL primitives, written from the RFC) is
// checked against the RFC's own vectors, then libsrtp's output is checked against that reference.
#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <string>
#include <vector>

#include "srtp_reference.hpp"
#include "srtp_session.hpp"

using namespace mra;
using namespace mra::testref;

TEST_CASE("RFC 3711 B.2: AES-CM keystream", "[srtp][rfc3711]") {
  const Bytes ks = aesCtr(hex("2B7E151628AED2A6ABF7158809CF4F3C"), hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), 32);
  CHECK(ks == hex("E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB"));
}

TEST_CASE("RFC 3711 B.3: key derivation", "[srtp][rfc3711]") {
  const Bytes mk = hex("E1F97A0D3E018BE0D64FA32C06DE4139"), ms = hex("0EC675AD498AFEEBB6960B3AABE6");
  CHECK(kdf(mk, ms, 0x00, 16) == hex("C61E7A93744F39EE10734AFE3FF7A087"));
  CHECK(kdf(mk, ms, 0x02, 14) == hex("30CBBC08863D8C85D49DB34A9AE1"));
  CHECK(kdf(mk, ms, 0x01, 20) == hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"));
}

TEST_CASE("libsrtp protects exactly as RFC 3711 specifies (AES_CM_128_HMAC_SHA1_80, B.3 keys)", "[srtp][rfc3711]") {
  const Bytes mk = hex("E1F97A0D3E018BE0D64FA32C06DE4139"), ms = hex("0EC675AD498AFEEBB6960B3AABE6");
  Bytes keySalt = mk;
  keySalt.insert(keySalt.end(), ms.begin(), ms.end());
  SrtpSession tx(*findSrtpSuite("AES_CM_128_HMAC_SHA1_80"), keySalt.data(), keySalt.size(),
                 SrtpSession::Direction::Outbound);
  const uint32_t ssrc = 0xcafebabe;
  const uint16_t seq = 0x1234;
  Bytes packet(12 + 160, 0xab);
  packet[0] = 0x80, packet[1] = 0, packet[2] = seq >> 8, packet[3] = seq & 0xff;
  packet[8] = 0xca, packet[9] = 0xfe, packet[10] = 0xba, packet[11] = 0xbe;
  const Bytes plain = packet;
  packet.resize(2048);
  size_t len = plain.size();
  REQUIRE(tx.protectRtp(packet.data(), len, packet.size()) == SrtpResult::Ok);
  REQUIRE(len == plain.size() + 10);

  // The reference: IV = (k_s << 16) XOR (SSRC << 64) XOR (index << 16), index = ROC(0) || SEQ.
  const Bytes ck = kdf(mk, ms, 0x00, 16), cs = kdf(mk, ms, 0x02, 14), ak = kdf(mk, ms, 0x01, 20);
  Bytes iv(16, 0);
  std::memcpy(iv.data(), cs.data(), 14);
  for (int i = 0; i < 4; ++i) iv[4 + i] ^= uint8_t(ssrc >> (24 - 8 * i));
  iv[12] ^= seq >> 8, iv[13] ^= seq & 0xff;
  const Bytes ks = aesCtr(ck, iv, 160);
  Bytes expected = plain;
  for (size_t i = 0; i < 160; ++i) expected[12 + i] ^= ks[i];
  Bytes authed = expected;
  authed.insert(authed.end(), {0, 0, 0, 0});  // ROC
  uint8_t mac[20];
  unsigned macLen = 0;
  HMAC(EVP_sha1(), ak.data(), int(ak.size()), authed.data(), authed.size(), mac, &macLen);
  expected.insert(expected.end(), mac, mac + 10);
  CHECK(Bytes(packet.begin(), packet.begin() + long(len)) == expected);

  SrtpSession rx(*findSrtpSuite("AES_CM_128_HMAC_SHA1_80"), keySalt.data(), keySalt.size(),
                 SrtpSession::Direction::Inbound);
  Bytes tampered(packet.begin(), packet.begin() + long(len));
  tampered[20] ^= 1;
  size_t tlen = tampered.size();
  CHECK(rx.unprotectRtp(tampered.data(), tlen) == SrtpResult::AuthFail);
  CHECK(rx.unprotectRtp(packet.data(), len) == SrtpResult::Ok);
  CHECK(Bytes(packet.begin(), packet.begin() + long(len)) == plain);
  size_t again = expected.size();
  CHECK(rx.unprotectRtp(expected.data(), again) == SrtpResult::ReplayFail);
}

TEST_CASE("every suite this build offers round-trips RTP and SRTCP and rejects forgeries", "[srtp]") {
  const auto suites = availableSrtpSuites();
  CHECK(suites.size() == 6);  // the OpenSSL build has all of them, GCM included
  for (const std::string& name : suites) {
    INFO(name);
    const SrtpSuiteInfo& s = *findSrtpSuite(name);
    Bytes key(s.keySaltLength);
    for (size_t i = 0; i < key.size(); ++i) key[i] = uint8_t(i * 7 + 1);
    SrtpSession tx(s, key.data(), key.size(), SrtpSession::Direction::Outbound);
    SrtpSession rx(s, key.data(), key.size(), SrtpSession::Direction::Inbound);
    for (uint32_t n = 0; n < 20; ++n) {
      const uint16_t seq = uint16_t(65530 + n);  // across the wrap: the ROC must follow
      Bytes p(2048, 0x5a);
      p[0] = 0x80, p[2] = seq >> 8, p[3] = seq & 0xff, p[11] = 1;
      size_t len = 172;
      const Bytes plain(p.begin(), p.begin() + 172);
      REQUIRE(tx.protectRtp(p.data(), len, p.size()) == SrtpResult::Ok);
      CHECK(len == 172 + s.tagLength);
      REQUIRE(rx.unprotectRtp(p.data(), len) == SrtpResult::Ok);
      CHECK(Bytes(p.begin(), p.begin() + long(len)) == plain);
    }
    Bytes rtcp(2048, 0);
    rtcp[0] = 0x80, rtcp[1] = 201, rtcp[3] = 1, rtcp[7] = 1;
    size_t len = 8;
    REQUIRE(tx.protectRtcp(rtcp.data(), len, rtcp.size()) == SrtpResult::Ok);
    rtcp[len - 1] ^= 0xff;
    CHECK(rx.unprotectRtcp(rtcp.data(), len) == SrtpResult::AuthFail);
  }
  CHECK_THROWS_AS(SrtpSession(*findSrtpSuite("AEAD_AES_128_GCM"), nullptr, 3, SrtpSession::Direction::Inbound),
                  std::invalid_argument);
  CHECK(findSrtpSuite("NULL_NULL") == nullptr);
}
