// Ring buffer consumer that never blocks the event loop: libuv watches libbpf's epoll fd, and
// each readable tick drains at most `maxBatch` records, copied into Buffers and handed to one
// JS callback. A slow consumer calls pause(): the kernel side then fills and the BPF producer
// counts what it could not reserve (loss is counted there, never silent). close() stops
// polling and frees the ring; it is idempotent and also runs on GC.
#include <bpf/libbpf.h>
#include <uv.h>

#include <cerrno>
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

  // new RingBuffer(mapFd, onBatch(records: Buffer[]), maxBatch = 4096)
  RingBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingBuffer>(info), env_(info.Env()) {
    int mapFd = ArgInt(info, 0, "mapFd");
    if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env_, "onBatch must be a function");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    if (info.Length() > 2 && info[2].IsNumber()) maxBatch_ = info[2].As<Napi::Number>().Uint32Value();
    if (maxBatch_ == 0) maxBatch_ = 1;
    rb_ = ring_buffer__new(mapFd, &RingBuffer::OnSample, this, nullptr);
    if (!rb_) ThrowErrno(env_, errno, "ring_buffer__new");
  }
  ~RingBuffer() override { Teardown(); }

 private:
  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingBuffer*>(ctx);
    self->batch_.push_back(Napi::Buffer<uint8_t>::Copy(self->env_, static_cast<uint8_t*>(data), size));
    return self->batch_.size() >= self->maxBatch_ ? kBatchFull : 0;
  }

  // Drain one batch and deliver it. Returns the number of records delivered.
  size_t DrainOnce(bool fromLoop) {
    Napi::HandleScope scope(env_);
    batch_.clear();
    int n = ring_buffer__consume(rb_);
    if (n < 0 && n != kBatchFull) {
      Napi::Error e = ErrnoError(env_, n, "ring_buffer__consume");
      if (fromLoop) napi_fatal_exception(env_, e.Value());
      else throw e;
      return 0;
    }
    size_t count = batch_.size();
    if (count == 0) return 0;
    Napi::Array arr = Napi::Array::New(env_, count);
    for (size_t i = 0; i < count; i++) arr.Set(i, batch_[i]);
    batch_.clear();
    if (fromLoop) {
      // MakeCallback runs microtasks and async hooks as an I/O callback should.
      callback_.MakeCallback(Value(), {arr});
    } else {
      callback_.Call(Value(), {arr});
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
    self->DrainOnce(true);
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
    polling_ = true;
    // While polling, the JS object must stay alive even if user code drops it.
    Ref();
    return env_.Undefined();
  }

  void StopPolling() {
    if (polling_) {
      uv_poll_stop(poll_);
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
      if (n < maxBatch_) break;
    }
    return Napi::Number::New(env_, total);
  }

  void Teardown() {
    if (polling_) {
      uv_poll_stop(poll_);
      polling_ = false;
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
  bool polling_ = false;
  uint32_t maxBatch_ = 4096;
  std::vector<Napi::Value> batch_;
};

void InitRingbuf(Napi::Env env, Napi::Object exports) { RingBuffer::Init(env, exports); }

}  // namespace pw
