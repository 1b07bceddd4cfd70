// STUN messages (RFC 8489) as the TURN server (RFC 8656) reads and writes them: a view over a received message
// that finds its attributes without copying, and a builder that writes a message into a caller's buffer.
// Integrity (MESSAGE-INTEGRITY, -SHA256) and FINGERPRINT are computed here; keys come from stun_credentials.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "latch.hpp"  // Endpoint

namespace mra::turn {

constexpr uint32_t kMagicCookie = 0x2112A442;
constexpr size_t kStunHeader = 20;
// The largest message the server takes (a datagram's or a stream's); requests are far smaller, and data over
// TURN is media, below the path MTU.
constexpr size_t kMaxStunMessage = 4096;
using TransactionId = std::array<uint8_t, 12>;

enum class StunClass : uint8_t { Request = 0, Indication = 1, Success = 2, Error = 3 };

namespace method {
enum : uint16_t {
  Binding = 0x001,
  Allocate = 0x003,
  Refresh = 0x004,
  Send = 0x006,
  Data = 0x007,
  CreatePermission = 0x008,
  ChannelBind = 0x009,
};
}  // namespace method

// The attributes the server reads or writes (RFC 8489 §18.3, RFC 8656 §18).
namespace attr {
enum : uint16_t {
  MappedAddress = 0x0001,
  Username = 0x0006,
  MessageIntegrity = 0x0008,
  ErrorCode = 0x0009,
  UnknownAttributes = 0x000A,
  ChannelNumber = 0x000C,
  Lifetime = 0x000D,
  XorPeerAddress = 0x0012,
  Data = 0x0013,
  Realm = 0x0014,
  Nonce = 0x0015,
  XorRelayedAddress = 0x0016,
  RequestedAddressFamily = 0x0017,
  EvenPort = 0x0018,
  RequestedTransport = 0x0019,
  DontFragment = 0x001A,
  MessageIntegritySha256 = 0x001C,
  PasswordAlgorithm = 0x001D,
  Userhash = 0x001E,
  XorMappedAddress = 0x0020,
  ReservationToken = 0x0022,
  AdditionalAddressFamily = 0x8000,
  AddressErrorCode = 0x8001,
  PasswordAlgorithms = 0x8002,
  Software = 0x8022,
  Fingerprint = 0x8028,
};
}  // namespace attr

// 0x0000-0x7FFF must be understood by the receiver (RFC 8489 §14): a request carrying one the server does not
// know is answered 420 with UNKNOWN-ATTRIBUTES.
inline bool comprehensionRequired(uint16_t type) { return type < 0x8000; }
bool knownAttribute(uint16_t type);

inline uint16_t messageType(uint16_t method, StunClass cls) {
  const uint16_t c = uint16_t(cls);
  return uint16_t((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7));
}

// Channel numbers: RFC 8656 §12 narrowed them to 0x4000-0x4FFF, RFC 5766 allowed up to 0x7FFF and its clients
// (coturn's among them) still pick from there; nothing else arrives on the TURN port, so both are taken.
constexpr uint16_t kFirstChannel = 0x4000, kLastChannel = 0x7FFF;

// What kind of datagram the first byte says it is (the STUN and ChannelData part of RFC 7983's demultiplexing).
enum class Framing { Stun, ChannelData, Other };
inline Framing framingOf(uint8_t first) {
  if (first < 0x40) return Framing::Stun;
  if (first <= (kLastChannel >> 8)) return Framing::ChannelData;
  return Framing::Other;
}

struct AttributeRef {
  uint16_t type = 0;
  uint16_t length = 0;
  uint16_t offset = 0;  // of the value, from the start of the message
};

// A parsed message over the caller's bytes (which must outlive it). Only the first occurrence of an attribute
// counts (RFC 8489 §14), except XOR-PEER-ADDRESS, which CreatePermission may repeat; attributes after
// MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored, and nothing after FINGERPRINT.
class StunView {
 public:
  static constexpr size_t kMaxAttributes = 40;

  // Why a buffer is not a STUN message; None when it is.
  enum class Problem { None, TooShort, NotStun, BadLength, BadCookie, BadAttribute, TooManyAttributes, BadFingerprint };

  // After TooShort, NotStun, BadLength or BadCookie nothing can be read; after the other problems the header
  // (method, class, transaction) can. `exact`: the buffer is one datagram and must hold exactly one message (UDP); otherwise trailing bytes are
  // allowed (a stream's framing already cut it).
  Problem parse(const uint8_t* data, size_t length, bool exact = true);

  uint16_t method() const { return method_; }
  StunClass cls() const { return cls_; }
  const TransactionId& transaction() const { return tid_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  const AttributeRef* find(uint16_t type) const;
  std::string_view text(uint16_t type) const;                     // empty when absent
  bool u32(uint16_t type, uint32_t& out) const;                   // a 4-byte attribute
  // XOR-*-ADDRESS: false when absent; `family` is 1 (IPv4) or 2 (IPv6); IPv6 addresses are not decoded.
  bool xorAddress(uint16_t type, Endpoint& out, uint8_t& family) const;
  bool xorAddressAt(const AttributeRef& a, Endpoint& out, uint8_t& family) const;
  // The first comprehension-required attribute the server does not know, or 0.
  size_t unknownRequired(uint16_t* out, size_t max) const;
  bool hasFingerprint() const { return fingerprint_ != nullptr; }

  // HMAC over the message up to the attribute, with the header length covering it (RFC 8489 §14.5, §14.6).
  bool checkIntegrity(const uint8_t* key, size_t keyLength) const;        // MESSAGE-INTEGRITY, HMAC-SHA1
  bool checkIntegritySha256(const uint8_t* key, size_t keyLength) const;  // MESSAGE-INTEGRITY-SHA256

  const AttributeRef* attributes() const { return attrs_.data(); }
  size_t attributeCount() const { return count_; }

 private:
  bool checkHmac(const AttributeRef* attr, bool sha256, const uint8_t* key, size_t keyLength) const;

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint16_t method_ = 0;
  StunClass cls_ = StunClass::Request;
  TransactionId tid_{};
  std::array<AttributeRef, kMaxAttributes> attrs_{};
  size_t count_ = 0;
  const AttributeRef* fingerprint_ = nullptr;
};

// Writes one message into [buffer, buffer + capacity). Every add returns false (and the builder stays failed)
// when the message would not fit; the length field is kept current, so size() is the message so far.
class StunBuilder {
 public:
  StunBuilder(uint8_t* buffer, size_t capacity) : buf_(buffer), cap_(capacity) {}

  bool start(uint16_t method, StunClass cls, const TransactionId& tid);
  bool add(uint16_t type, const void* value, size_t length);
  bool addText(uint16_t type, std::string_view text) { return add(type, text.data(), text.size()); }
  bool addU32(uint16_t type, uint32_t value);
  bool addXorAddress(uint16_t type, Endpoint e);
  bool addError(int code, std::string_view reason);
  bool addIntegrity(const uint8_t* key, size_t keyLength);        // HMAC-SHA1, 20 bytes
  bool addIntegritySha256(const uint8_t* key, size_t keyLength);  // HMAC-SHA256, 32 bytes
  bool addFingerprint();

  bool ok() const { return ok_; }
  size_t size() const { return len_; }

 private:
  uint8_t* reserve(uint16_t type, size_t length);
  void setLength();

  uint8_t* buf_;
  size_t cap_;
  size_t len_ = 0;
  bool ok_ = true;
};

// RFC 8489 §14.7: CRC-32 of the message up to FINGERPRINT, XOR 0x5354554e.
uint32_t stunFingerprint(const uint8_t* data, size_t length);
uint32_t crc32(const uint8_t* data, size_t length);

// The reason phrase RFC 8489 / RFC 8656 give each error code ("Bad Request", "Stale Nonce", ...).
const char* errorReason(int code);

}  // namespace mra::turn
