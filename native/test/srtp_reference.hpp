// An SRTP reference written from the RFCs on OpenSSL primitives, independent of libsrtp: the RFC vectors check
// it, then it checks libsrtp (whose session keys come from a master key, so the RFCs' packets cannot be fed to
// it directly).
#pragma once
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace mra::testref {

using Bytes = std::vector<uint8_t>;

inline Bytes hex(const std::string& spaced) {
  std::string s;
  for (char c : spaced)
    if (c != ' ' && c != '\n') s += c;
  Bytes out;
  for (size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(uint8_t(std::stoul(s.substr(i, 2), nullptr, 16)));
  return out;
}

// AES in counter mode from a 16-byte IV (RFC 3711 section 4.1.1); AES-128 or AES-256 by key length.
inline Bytes aesCtr(const Bytes& key, const Bytes& iv, size_t len) {
  Bytes zeros(len, 0), out(len);
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int n = 0;
  EVP_EncryptInit_ex(c, key.size() == 32 ? EVP_aes_256_ctr() : EVP_aes_128_ctr(), nullptr, key.data(), iv.data());
  EVP_EncryptUpdate(c, out.data(), &n, zeros.data(), int(len));
  EVP_CIPHER_CTX_free(c);
  return out;
}

// RFC 3711 section 4.3.1 with key_derivation_rate 0: x = label << 48 XOR master salt, PRF = AES-CM. A 12-byte
// AEAD master salt (RFC 7714 section 11) is zero-padded to the 14 bytes the PRF input takes.
inline Bytes kdf(const Bytes& masterKey, const Bytes& masterSalt, uint8_t label, size_t len) {
  Bytes iv(16, 0);
  std::memcpy(iv.data(), masterSalt.data(), masterSalt.size());
  iv[7] ^= label;
  return aesCtr(masterKey, iv, len);
}

// AES-GCM with a 16-byte tag: returns ciphertext || tag.
inline Bytes gcmSeal(const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& plain) {
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  int n = 0;
  Bytes out(plain.size() + 16);
  EVP_EncryptInit_ex(c, key.size() == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm(), nullptr, nullptr, nullptr);
  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, int(iv.size()), nullptr);
  EVP_EncryptInit_ex(c, nullptr, nullptr, key.data(), iv.data());
  EVP_EncryptUpdate(c, nullptr, &n, aad.data(), int(aad.size()));
  EVP_EncryptUpdate(c, out.data(), &n, plain.data(), int(plain.size()));
  EVP_EncryptFinal_ex(c, out.data() + n, &n);
  EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out.data() + plain.size());
  EVP_CIPHER_CTX_free(c);
  return out;
}

}  // namespace mra::testref
