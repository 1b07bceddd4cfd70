// One TURN thread: an epoll loop over its own UDP (and TCP) listening socket on the TURN port (SO_REUSEPORT when
// there are several threads, so the kernel keeps each client 5-tuple on one of them), the TCP connections it
// accepted, and the relay sockets of the allocations it made. Nothing else touches them: no lock on the data path.
// Received datagrams are handled in batches (recvmmsg) and what goes to clients leaves in batches (sendmmsg).
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "turn/batch_io.hpp"
#include "turn/control_queue.hpp"
#include "turn/turn_allocation.hpp"
#include "turn/turn_config.hpp"
#include "turn/turn_tcp.hpp"

namespace mra::turn {

class TurnWorker {
 public:
  using Task = std::function<void(TurnWorker&)>;

  // Opens the worker's listening sockets on `port` (0: any; the first worker's choice is then passed to the rest).
  TurnWorker(int index, TurnShared& shared, uint16_t port);
  ~TurnWorker();
  TurnWorker(const TurnWorker&) = delete;
  TurnWorker& operator=(const TurnWorker&) = delete;

  uint16_t udpPort() const { return udpPort_; }
  uint16_t tcpPort() const { return tcpPort_; }
  bool batchesAcrossSockets() const { return io_.usesRing(); }
  void start();
  void stop();  // joins, then ends every allocation: their ports go back to the pool
  void post(Task task) { control_.post(std::move(task)); }
  const TurnCounters& counters() const { return counters_; }

 private:
  static constexpr int kBatch = 32;
  static constexpr int kSlots = 128;
  static constexpr int kListenerBatches = 16;
  // Room before a received payload for the header it gets on its way to the client: a Data indication's
  // 20-byte header, XOR-PEER-ADDRESS (12) and DATA's attribute header (4), or ChannelData's 4.
  static constexpr size_t kHeadroom = 40;
  static constexpr size_t kSlotSize = kHeadroom + kMaxStunMessage + 4;
  // What is read from a peer: room left for a Data indication's header and padding in a kMaxStunMessage message.
  static constexpr size_t kMaxRelayed = kMaxStunMessage - 40;

  struct Send {
    int fd;
    iovec iov;
    sockaddr_in to;
  };

  void run();
  void watch(int fd, Watch& w, uint32_t events = 0x001 /* EPOLLIN */);
  void unwatch(int fd);
  void onUdpListener();
  void onTcpListener();
  void onTcpReadable(TcpConnection& c);
  void onTcpWritable(TcpConnection& c);
  void readRelays();  // the relay sockets epoll reported this turn: one datagram each, in one batch
  void flushSends();
  void flushTcp(TcpConnection& c);
  void endTurn();
  void tick();

  // The data path.
  void fromClient(uint8_t* data, size_t length, Endpoint from, TcpConnection* tcp, bool datagram);
  void channelDataFromClient(uint8_t* data, size_t length, Allocation* a, bool datagram);
  void queueToPeer(Allocation& a, uint8_t* data, size_t length, Endpoint peer);
  // `data` has kHeadroom free bytes before it; the header is written there.
  void relayToClient(Allocation& a, uint8_t* data, size_t length, Endpoint peer);
  void sendToClient(Endpoint to, TcpConnection* tcp, uint8_t* data, size_t length);

  // Requests (turn_requests.cpp).
  struct Request;
  void handleStun(const StunView& msg, Endpoint from, TcpConnection* tcp);
  void handleRequest(const StunView& msg, Endpoint from, TcpConnection* tcp);
  void rejectMalformed(const StunView& header, Endpoint from, TcpConnection* tcp);
  void handleSendIndication(const StunView& msg, Allocation* a);
  void allocate(Request& r);
  void refresh(Request& r, Allocation& a);
  void createPermission(Request& r, Allocation& a);
  void channelBind(Request& r, Allocation& a);
  void respondError(Request& r, int code, const char* detail, bool withIntegrity = true);
  void respondChallenge(Request& r, int code, const char* detail);
  void respondSuccess(Request& r, const std::function<void(StunBuilder&)>& attributes);
  void finishAndSend(Request& r, StunBuilder& b, bool withIntegrity);
  int peerProblem(Request& r, const AttributeRef& attr, Endpoint& peer);
  uint64_t lifetimeFor(const StunView& msg, uint32_t& seconds) const;

  Allocation* findAllocation(Endpoint from, TcpConnection* tcp);
  void retire(Allocation* a, Counter& why);
  void retire(TcpConnection* c);
  void refreshGauges();

  int index_;
  TurnShared& shared_;
  int epollFd_ = -1, udpFd_ = -1, tcpFd_ = -1;
  uint16_t udpPort_ = 0, tcpPort_ = 0;
  Watch controlWatch_{Watch::Kind::Control, nullptr};
  Watch udpWatch_{Watch::Kind::UdpListener, nullptr};
  Watch tcpWatch_{Watch::Kind::TcpListener, nullptr};
  std::thread thread_;
  std::atomic<bool> running_{false};
  ControlQueue<TurnWorker> control_;
  TurnCounters counters_;

  std::unordered_map<Allocation*, std::unique_ptr<Allocation>> allocations_;
  std::unordered_map<uint64_t, Allocation*> byClient_;  // UDP clients by address
  std::unordered_map<TcpConnection*, std::unique_ptr<TcpConnection>> connections_;
  // Ended this turn: sockets are closed and memory freed after the turn's sends, which may still name them.
  std::vector<std::unique_ptr<Allocation>> retiredAllocations_;
  std::vector<std::unique_ptr<TcpConnection>> retiredConnections_;
  std::vector<TcpConnection*> tcpDirty_;
  uint64_t nowMs_ = 0, nowS_ = 0, lastTickMs_ = 0;
  uint32_t permissions_ = 0, channels_ = 0;
  uint64_t indicationSeq_ = 0;
  int packetsThisTurn_ = 0;

  std::vector<std::array<uint8_t, kSlotSize>> slots_ = std::vector<std::array<uint8_t, kSlotSize>>(kSlots);
  int slotsUsed_ = 0;
  std::array<mmsghdr, kBatch> recvMsgs_{};
  std::array<iovec, kBatch> recvIov_{};
  std::array<sockaddr_in, kBatch> recvAddrs_{};
  std::vector<Send> sends_;
  std::vector<mmsghdr> sendMsgs_;
  BatchIo io_{shared_.cfg.ioUring};
  std::vector<Allocation*> readyRelays_;
  std::array<msghdr, kSlots> relayMsgs_{};
  std::array<msghdr*, kSlots> relayMsgPtrs_{};
  std::array<iovec, kSlots> relayIov_{};
  std::array<sockaddr_in, kSlots> relayAddrs_{};
  std::array<int, BatchIo::kMaxBatch> batchFds_{}, batchResults_{};
  std::array<msghdr*, BatchIo::kMaxBatch> batchMsgs_{};
  std::array<uint8_t, kMaxStunMessage> response_{};
};

}  // namespace mra::turn
