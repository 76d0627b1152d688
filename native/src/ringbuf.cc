// Ring buffer consumer that never blocks the event loop: libuv watches libbpf's epoll fd, and
// each readable tick drains at most `maxBatch` records, copied back to back into one Buffer
// and handed to one JS callback with the offset where each record ends (one allocation per
// batch, not per record: at hundreds of thousands of events a second, that is the cost). A slow consumer calls pause(): the kernel side then fills and the BPF producer
// counts what it could not reserve (loss is counted there, never silent). close() stops
// polling and frees the ring; it is idempotent and also runs on GC.
//
// The pipeline's producers wake the reader only once a batch waits (bpf/include/pathwise/
// ring.bpf.h): besides the epoll wakeups, a timer of `drainMs` drains what stays below that
// mark, backing off to 8 times that while it finds nothing (a trickle's first record after an
// idle spell then waits up to 8 x drainMs, the next ones drainMs). A ring whose producer
// wakes on every record (the kernel's default) needs no timer (drainMs 0).
#include <bpf/libbpf.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common.h"

namespace pw {

// Returned from the sample callback to stop after a full batch; the record that returned it
// has been delivered already (libbpf advances the consumer position before stopping).
static const int kBatchFull = -ENOBUFS;

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "RingBuffer",
                                   {
                                       InstanceMethod<&RingBuffer::Start>("start"),
                                       InstanceMethod<&RingBuffer::Pause>("pause"),
                                       InstanceMethod<&RingBuffer::Consume>("consume"),
                                       InstanceMethod<&RingBuffer::Close>("close"),
                                       InstanceAccessor<&RingBuffer::GetClosed>("closed"),
                                   });
    exports.Set("RingBuffer", f);
  }

  // new RingBuffer(mapFd, onBatch(data: Buffer, ends: Uint32Array), maxBatch = 4096, drainMs = 0):
  // record i is data[ends[i-1] (0 for the first) .. ends[i]).
  RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info), env_(info.Env()) {
    int mapFd = ArgInt(info, 0, "mapFd");
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env_, "onBatch must be a function");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    if (info.Length() > 2 && info[2].IsNumber()) maxBatch_ = info[2].As<Napi::Number>().Uint32Value();
    if (maxBatch_ == 0) maxBatch_ = 1;
    if (info.Length() > 3 && info[3].IsNumber()) drainMs_ = info[3].As<Napi::Number>().Uint32Value();
    rb_ = ring_buffer__new(mapFd, &RingBuffer::OnSample, this, nullptr);
    if (!rb_) ThrowErrno(env_, errno, "ring_buffer__new");
  }
  ~RingBuffer() override { Teardown(); }

 private:
  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBuffer*>(ctx);
    const uint8_t* p = static_cast<const uint8_t*>(data);
    self->bytes_.insert(self->bytes_.end(), p, p + size);
    self->ends_.push_back(static_cast<uint32_t>(self->bytes_.size()));
    return self->ends_.size() >= self->maxBatch_ ? kBatchFull : 0;
  }

  // Drain one batch and deliver it. Returns the number of records delivered.
  size_t DrainOnce(bool fromLoop) {
    if (!rb_) return 0;  // closed (by an earlier callback of this drain)
    Napi::HandleScope scope(env_);
    bytes_.clear();
    ends_.clear();
    int n = ring_buffer__consume(rb_);
    if (n < 0 && n != kBatchFull) {
      Napi::Error e = ErrnoError(env_, n, "ring_buffer__consume");
      if (fromLoop) napi_fatal_exception(env_, e.Value());
      else throw e;
      return 0;
    }
    size_t count = ends_.size();
    if (count == 0) return 0;
    Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::Copy(env_, bytes_.data(), bytes_.size());
    Napi::ArrayBuffer endsBuf = Napi::ArrayBuffer::New(env_, count * sizeof(uint32_t));
    std::memcpy(endsBuf.Data(), ends_.data(), count * sizeof(uint32_t));
    Napi::TypedArrayOf<uint32_t> ends = Napi::TypedArrayOf<uint32_t>::New(env_, count, endsBuf, 0);
    if (fromLoop) {
      // MakeCallback runs microtasks and async hooks as an I/O callback should.
      callback_.MakeCallback(Value(), {data, ends});
    } else {
      callback_.Call(Value(), {data, ends});
    }
    return count;
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<RingBuffer*>(handle->data);
    if (!self->rb_) return;
    if (status < 0) {
      Napi::HandleScope scope(self->env_);
      napi_fatal_exception(self->env_, ErrnoError(self->env_, status, "uv_poll").Value());
      return;
    }
    self->Pace(self->DrainAll() > 0);
  }

  // The timer backs off while it finds nothing, to kMaxBackoff times drainMs: at a fixed 5 ms
  // an idle daemon woke 200 times a second for nothing (1.1 % of a CPU here, against 0.4 %
  // with the backoff). Records delivered, by the timer or a wakeup, bring it back to drainMs.
  static void OnTimer(uv_timer_t* handle) {
    auto* self = static_cast<RingBuffer*>(handle->data);
    self->Pace(self->DrainAll() > 0);
  }

  // Everything there now, a batch at a time: the kernel signals only a consumer that has caught
  // up (or a batch's worth waiting), so records left behind would not wake us again in time
  // (the producer would then count them lost). Returns the records delivered.
  size_t DrainAll() {
    size_t total = 0, n;
    do {
      n = DrainOnce(true);
      total += n;
    } while (rb_ && n >= maxBatch_);
    return total;
  }

  static constexpr uint32_t kMaxBackoff = 8;

  // Sets the timer's period after a drain: drainMs when it delivered, twice the last (up to
  // kMaxBackoff times drainMs) when it found nothing. Not while paused or once closed (a
  // callback may have done either).
  void Pace(bool delivered) {
    if (!timer_ || !polling_) return;
    uint32_t next = delivered ? drainMs_ : std::min(periodMs_ * 2, drainMs_ * kMaxBackoff);
    if (next == periodMs_) return;
    periodMs_ = next;
    uv_timer_start(timer_, OnTimer, periodMs_, periodMs_);
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!rb_) ThrowErrno(env_, EBADF, "ring_buffer", "ring buffer is closed");
    if (polling_) return env_.Undefined();
    if (!poll_) {
      uv_loop_t* loop;
      napi_get_uv_event_loop(env_, &loop);
      poll_ = new uv_poll_t;
      int err = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
      if (err) {
        delete poll_;
        poll_ = nullptr;
        ThrowErrno(env_, err, "uv_poll_init");
      }
      poll_->data = this;
    }
    int err = uv_poll_start(poll_, UV_READABLE, OnPoll);
    if (err) ThrowErrno(env_, err, "uv_poll_start");
    if (drainMs_ && !timer_) {
      uv_loop_t* loop;
      napi_get_uv_event_loop(env_, &loop);
      timer_ = new uv_timer_t;
      uv_timer_init(loop, timer_);
      timer_->data = this;
      // The poll keeps the loop alive while the ring is read; the timer adds nothing to that.
      uv_unref(reinterpret_cast<uv_handle_t*>(timer_));
    }
    periodMs_ = drainMs_;
    if (timer_) uv_timer_start(timer_, OnTimer, periodMs_, periodMs_);
    polling_ = true;
    // While polling, the JS object must stay alive even if user code drops it.
    Ref();
    return env_.Undefined();
  }

  void StopPolling() {
    if (polling_) {
      uv_poll_stop(poll_);
      if (timer_) uv_timer_stop(timer_);
      polling_ = false;
      Unref();
    }
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    StopPolling();
    return env_.Undefined();
  }

  // Synchronous drain of everything available now (tests, shutdown). Returns records delivered.
  Napi::Value Consume(const Napi::CallbackInfo& info) {
    if (!rb_) ThrowErrno(env_, EBADF, "ring_buffer", "ring buffer is closed");
    double total = 0;
    for (;;) {
      size_t n = DrainOnce(false);
      total += n;
      // A callback may have closed the ring: the next drain would use a freed ring_buffer.
      if (n < maxBatch_ || !rb_) break;
    }
    return Napi::Number::New(env_, total);
  }

  void Teardown() {
    if (polling_) {
      uv_poll_stop(poll_);
      if (timer_) uv_timer_stop(timer_);
      polling_ = false;
    }
    if (timer_) {
      uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
      timer_ = nullptr;
    }
    if (poll_) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (rb_) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopPolling();
    Teardown();
    return env_.Undefined();
  }

  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(env_, rb_ == nullptr); }

  Napi::Env env_;
  Napi::FunctionReference callback_;
  ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  uint32_t drainMs_ = 0;
  uint32_t periodMs_ = 0;  // the timer's period now: drainMs_, or more while it finds nothing
  bool polling_ = false;
  uint32_t maxBatch_ = 4096;
  std::vector<uint8_t> bytes_;
  std::vector<uint32_t> ends_;
};

void InitRingbuf(Napi::Env env, Napi::Object exports) { RingBuffer::Init(env, exports); }

}  // namespace pw
