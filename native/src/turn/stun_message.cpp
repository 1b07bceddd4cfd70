#include "turn/stun_message.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

namespace mra::turn {

namespace {

uint16_t rd16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
uint32_t rd32(const uint8_t* p) { return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]; }
void wr16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8), p[1] = uint8_t(v); }
void wr32(uint8_t* p, uint32_t v) { p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v); }
size_t padded(size_t n) { return (n + 3) & ~size_t(3); }

std::array<uint32_t, 256> crcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

// HMAC over `prefix` bytes of the message whose header's length field reads `length`: the header is patched in a
// copy, so a received message is never written to.
bool hmacOver(const uint8_t* msg, size_t prefix, uint16_t length, bool sha256, const uint8_t* key, size_t keyLength,
              uint8_t* out) {
  uint8_t copy[kMaxStunMessage];
  if (prefix > sizeof copy) return false;
  std::memcpy(copy, msg, prefix);
  wr16(copy + 2, length);
  unsigned int outLength = 0;
  return HMAC(sha256 ? EVP_sha256() : EVP_sha1(), key, int(keyLength), copy, prefix, out, &outLength) != nullptr;
}

}  // namespace

bool knownAttribute(uint16_t type) {
  switch (type) {
    case attr::MappedAddress: case attr::Username: case attr::MessageIntegrity: case attr::ErrorCode:
    case attr::UnknownAttributes: case attr::ChannelNumber: case attr::Lifetime: case attr::XorPeerAddress:
    case attr::Data: case attr::Realm: case attr::Nonce: case attr::XorRelayedAddress:
    case attr::RequestedAddressFamily: case attr::EvenPort: case attr::RequestedTransport: case attr::DontFragment:
    case attr::MessageIntegritySha256: case attr::PasswordAlgorithm: case attr::XorMappedAddress:
    case attr::ReservationToken:
      return true;
    default:
      // USERHASH (username anonymity) is not offered: our nonces do not set its security feature bit, so a
      // request that carries it anyway is answered 420 like any attribute we do not implement.
      return !comprehensionRequired(type);
  }
}

uint32_t crc32(const uint8_t* data, size_t length) {
  static const std::array<uint32_t, 256> table = crcTable();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < length; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t stunFingerprint(const uint8_t* data, size_t length) { return crc32(data, length) ^ 0x5354554Eu; }

StunView::Problem StunView::parse(const uint8_t* data, size_t length, bool exact) {
  data_ = data;
  count_ = 0;
  fingerprint_ = nullptr;
  if (length < kStunHeader) return Problem::TooShort;
  if ((data[0] & 0xC0) != 0) return Problem::NotStun;
  const size_t bodyLength = rd16(data + 2);
  if (bodyLength % 4 != 0 || kStunHeader + bodyLength > length || (exact && kStunHeader + bodyLength != length))
    return Problem::BadLength;
  if (rd32(data + 4) != kMagicCookie) return Problem::BadCookie;
  size_ = kStunHeader + bodyLength;
  const uint16_t type = rd16(data);
  method_ = uint16_t((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));
  cls_ = StunClass(((type >> 4) & 1) | ((type >> 7) & 2));
  std::memcpy(tid_.data(), data + 8, tid_.size());
  bool afterIntegrity = false;
  size_t pos = kStunHeader;
  while (pos < size_) {
    if (pos + 4 > size_) return Problem::BadAttribute;
    const uint16_t atype = rd16(data + pos);
    const uint16_t alen = rd16(data + pos + 2);
    if (pos + 4 + padded(alen) > size_) return Problem::BadAttribute;
    const AttributeRef ref{atype, alen, uint16_t(pos + 4)};
    pos += 4 + padded(alen);
    if (atype == attr::Fingerprint) {
      if (alen != 4 || pos != size_) return Problem::BadAttribute;  // FINGERPRINT is always last
      if (rd32(data + ref.offset) != stunFingerprint(data, ref.offset - 4)) return Problem::BadFingerprint;
      if (count_ == kMaxAttributes) return Problem::TooManyAttributes;
      attrs_[count_++] = ref;
      fingerprint_ = &attrs_[count_ - 1];
      break;
    }
    if (afterIntegrity && atype != attr::MessageIntegritySha256) continue;
    if (atype == attr::MessageIntegrity || atype == attr::MessageIntegritySha256) afterIntegrity = true;
    // Only the first occurrence counts, but for XOR-PEER-ADDRESS: CreatePermission takes several (RFC 8656 §9.1).
    if (atype != attr::XorPeerAddress && find(atype)) continue;
    if (count_ == kMaxAttributes) return Problem::TooManyAttributes;
    attrs_[count_++] = ref;
  }
  return Problem::None;
}

const AttributeRef* StunView::find(uint16_t type) const {
  for (size_t i = 0; i < count_; ++i)
    if (attrs_[i].type == type) return &attrs_[i];
  return nullptr;
}

std::string_view StunView::text(uint16_t type) const {
  const AttributeRef* a = find(type);
  return a ? std::string_view(reinterpret_cast<const char*>(data_ + a->offset), a->length) : std::string_view();
}

bool StunView::u32(uint16_t type, uint32_t& out) const {
  const AttributeRef* a = find(type);
  if (!a || a->length != 4) return false;
  out = rd32(data_ + a->offset);
  return true;
}

bool StunView::xorAddress(uint16_t type, Endpoint& out, uint8_t& family) const {
  const AttributeRef* a = find(type);
  return a && xorAddressAt(*a, out, family);
}

bool StunView::xorAddressAt(const AttributeRef& ref, Endpoint& out, uint8_t& family) const {
  const AttributeRef* a = &ref;
  if (a->length < 8) return false;
  const uint8_t* v = data_ + a->offset;
  family = v[1];
  if (family == 0x01) {
    if (a->length != 8) return false;
    out.port = uint16_t(rd16(v + 2) ^ (kMagicCookie >> 16));
    out.ip = rd32(v + 4) ^ kMagicCookie;
    return true;
  }
  return family == 0x02 && a->length == 20;
}

size_t StunView::unknownRequired(uint16_t* out, size_t max) const {
  size_t n = 0;
  for (size_t i = 0; i < count_ && n < max; ++i)
    if (!knownAttribute(attrs_[i].type)) out[n++] = attrs_[i].type;
  return n;
}

bool StunView::checkHmac(const AttributeRef* a, bool sha256, const uint8_t* key, size_t keyLength) const {
  // MESSAGE-INTEGRITY-SHA256 may be truncated to no less than 16 bytes (RFC 8489 §14.6); MESSAGE-INTEGRITY is 20.
  if (!a || (sha256 ? (a->length < 16 || a->length > 32 || a->length % 4) : a->length != 20)) return false;
  const size_t prefix = a->offset - 4;
  uint8_t mac[32];
  if (!hmacOver(data_, prefix, uint16_t(prefix + 4 + a->length - kStunHeader), sha256, key, keyLength, mac)) return false;
  return CRYPTO_memcmp(mac, data_ + a->offset, a->length) == 0;
}

bool StunView::checkIntegrity(const uint8_t* key, size_t keyLength) const {
  return checkHmac(find(attr::MessageIntegrity), false, key, keyLength);
}

bool StunView::checkIntegritySha256(const uint8_t* key, size_t keyLength) const {
  return checkHmac(find(attr::MessageIntegritySha256), true, key, keyLength);
}

bool StunBuilder::start(uint16_t method, StunClass cls, const TransactionId& tid) {
  if (cap_ < kStunHeader) return ok_ = false;
  wr16(buf_, messageType(method, cls));
  wr16(buf_ + 2, 0);
  wr32(buf_ + 4, kMagicCookie);
  std::memcpy(buf_ + 8, tid.data(), tid.size());
  len_ = kStunHeader;
  return ok_ = true;
}

uint8_t* StunBuilder::reserve(uint16_t type, size_t length) {
  if (!ok_ || length > 0xFFFF || len_ + 4 + padded(length) > cap_) {
    ok_ = false;
    return nullptr;
  }
  uint8_t* p = buf_ + len_;
  wr16(p, type);
  wr16(p + 2, uint16_t(length));
  std::memset(p + 4 + length, 0, padded(length) - length);
  len_ += 4 + padded(length);
  setLength();
  return p + 4;
}

void StunBuilder::setLength() { wr16(buf_ + 2, uint16_t(len_ - kStunHeader)); }

bool StunBuilder::add(uint16_t type, const void* value, size_t length) {
  uint8_t* p = reserve(type, length);
  if (p && length) std::memcpy(p, value, length);
  return p != nullptr;
}

bool StunBuilder::addU32(uint16_t type, uint32_t value) {
  uint8_t* p = reserve(type, 4);
  if (p) wr32(p, value);
  return p != nullptr;
}

bool StunBuilder::addXorAddress(uint16_t type, Endpoint e) {
  uint8_t* p = reserve(type, 8);
  if (!p) return false;
  p[0] = 0, p[1] = 0x01;
  wr16(p + 2, uint16_t(e.port ^ (kMagicCookie >> 16)));
  wr32(p + 4, e.ip ^ kMagicCookie);
  return true;
}

bool StunBuilder::addError(int code, std::string_view reason) {
  // Reason phrases are at most 127 characters (RFC 8489 §14.8); ours are ASCII, so bytes are characters.
  if (reason.size() > 127) reason = reason.substr(0, 127);
  uint8_t* p = reserve(attr::ErrorCode, 4 + reason.size());
  if (!p) return false;
  p[0] = p[1] = 0;
  p[2] = uint8_t(code / 100);
  p[3] = uint8_t(code % 100);
  std::memcpy(p + 4, reason.data(), reason.size());
  return true;
}

bool StunBuilder::addIntegrity(const uint8_t* key, size_t keyLength) {
  const size_t prefix = len_;
  uint8_t* p = reserve(attr::MessageIntegrity, 20);  // the length field now covers the attribute
  if (!p) return false;
  unsigned int n = 0;
  return ok_ = HMAC(EVP_sha1(), key, int(keyLength), buf_, prefix, p, &n) != nullptr;
}

bool StunBuilder::addIntegritySha256(const uint8_t* key, size_t keyLength) {
  const size_t prefix = len_;
  uint8_t* p = reserve(attr::MessageIntegritySha256, 32);
  if (!p) return false;
  unsigned int n = 0;
  return ok_ = HMAC(EVP_sha256(), key, int(keyLength), buf_, prefix, p, &n) != nullptr;
}

bool StunBuilder::addFingerprint() {
  const size_t prefix = len_;
  uint8_t* p = reserve(attr::Fingerprint, 4);
  if (p) wr32(p, stunFingerprint(buf_, prefix));
  return p != nullptr;
}

const char* errorReason(int code) {
  switch (code) {
    case 300: return "Try Alternate";
    case 400: return "Bad Request";
    case 401: return "Unauthenticated";
    case 403: return "Forbidden";
    case 420: return "Unknown Attribute";
    case 437: return "Allocation Mismatch";
    case 438: return "Stale Nonce";
    case 440: return "Address Family not Supported";
    case 441: return "Wrong Credentials";
    case 442: return "Unsupported Transport Protocol";
    case 443: return "Peer Address Family Mismatch";
    case 486: return "Allocation Quota Reached";
    case 500: return "Server Error";
    case 508: return "Insufficient Capacity";
    default: return "Error";
  }
}

}  // namespace mra::turn
