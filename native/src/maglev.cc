// The fill of a Maglev table (src/lb/maglev.ts decides every backend's walk; this only runs the
// walks). Filling 65,537 slots for 100 backends is ~65k turns and ~600k probes of taken slots,
// each a data-dependent branch: 3.2-3.8 ms in JavaScript on this VM (the JIT's warm-up on
// top), against a target of 5 ms for a rebuild; 2.0-2.2 ms here, in alternated runs.
//
// The result is exactly the walk of the definition (Eisenbud et al., NSDI 2016, §3.4, with a
// backend of weight w taking w turns in a row): backend i's walk visits offset, offset + skip,
// offset + 2 skip, ... (mod size), and at each of its turns it takes the first free slot of its
// walk from where it stopped. Two phases compute the same thing:
//  1. While many slots are free, probe the walk: a bitset of taken slots (8 KiB for 65,537, in
//     the L1 cache) and a step without division.
//  2. The last few free slots cost a walk ~size/free probes each (the second half of all
//     probes falls on the last ~256 slots). There, a free slot's distance along backend i's walk
//     is known without walking: (slot - position) * skip^-1 (mod size). Each backend's distance
//     to every free slot is computed once, from where it stands at the switch; a turn is then the
//     free slot of least distance, a scan of the few free slots. (The slots a backend passed to
//     reach the one it took were all taken, and stay taken: its least distance is still its next
//     slot.)
#include <algorithm>
#include <cstdint>
#include <vector>

#include "common.h"

namespace pw {

namespace {

// At most this many distances (4 bytes each) in phase 2: with many backends, fewer last slots.
constexpr uint64_t kTailCells = 1u << 17;
// Phase 2 starts at this many free slots (measured: 64-256 equally good for 100 backends).
constexpr uint32_t kTailSlots = 128;

uint64_t Gcd(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// a^-1 mod m, for gcd(a, m) = 1 (extended Euclid).
int64_t InverseMod(int64_t a, int64_t m) {
  int64_t r0 = m, r1 = a, s0 = 0, s1 = 1;
  while (r1) {
    int64_t q = r0 / r1;
    int64_t t = r0 - q * r1;
    r0 = r1;
    r1 = t;
    t = s0 - q * s1;
    s0 = s1;
    s1 = t;
  }
  return ((s0 % m) + m) % m;
}

struct Walks {
  std::vector<int32_t> pos;    // where each walk stands: its offset, then the slot it last took
  std::vector<int32_t> back;   // skip - size: a step is `p += back`, plus size if below 0
  const uint32_t* skip;
  const uint32_t* turns;
  const uint32_t* ids;
  uint32_t n;
};

void Fill(uint32_t* table, int32_t size, Walks& w) {
  const uint32_t n = w.n;
  std::vector<uint32_t> taken((static_cast<size_t>(size) + 31) / 32, 0);
  const int32_t tail = static_cast<int32_t>(std::min<uint64_t>({static_cast<uint64_t>(size), kTailSlots, kTailCells / n}));

  // Phase 1: probe the walks.
  int32_t filled = 0;
  uint32_t i = 0;
  uint32_t left = w.turns[0];
  int32_t p = w.pos[0];
  int32_t step = w.back[0];
  while (filled < size - tail) {
    while ((taken[p >> 5] >> (p & 31)) & 1) {
      p += step;
      p += (p >> 31) & size;
    }
    taken[p >> 5] |= 1u << (p & 31);
    table[p] = w.ids[i];
    filled++;
    if (--left == 0) {
      w.pos[i] = p;
      i = i + 1 == n ? 0 : i + 1;
      left = w.turns[i];
      p = w.pos[i];
      step = w.back[i];
    }
  }
  w.pos[i] = p;
  int32_t m = size - filled;
  if (m == 0) return;

  // Phase 2: distances along each walk to the free slots. dist[b * m + k] is slot free[k]'s
  // distance from walk b's position at the switch.
  std::vector<int32_t> free;
  free.reserve(m);
  for (int32_t s = 0; s < size; s++) {
    if (!((taken[s >> 5] >> (s & 31)) & 1)) free.push_back(s);
  }
  const int32_t stride = m;
  std::vector<int32_t> dist(static_cast<size_t>(n) * stride);
  for (uint32_t b = 0; b < n; b++) {
    const int64_t inv = InverseMod(w.skip[b], size);
    int32_t* row = &dist[static_cast<size_t>(b) * stride];
    for (int32_t k = 0; k < m; k++) {
      int64_t x = free[k] - w.pos[b];
      if (x < 0) x += size;
      row[k] = static_cast<int32_t>(x * inv % size);
    }
  }
  while (m > 0) {
    const int32_t* row = &dist[static_cast<size_t>(i) * stride];
    int32_t best = size, bk = 0;
    for (int32_t k = 0; k < m; k++) {
      if (row[k] < best) {
        best = row[k];
        bk = k;
      }
    }
    table[free[bk]] = w.ids[i];
    // Slot free[bk] is taken: the last free slot takes its place in every row.
    m--;
    free[bk] = free[m];
    for (uint32_t b = 0; b < n; b++) dist[static_cast<size_t>(b) * stride + bk] = dist[static_cast<size_t>(b) * stride + m];
    if (--left == 0) {
      i = i + 1 == n ? 0 : i + 1;
      left = w.turns[i];
    }
  }
}

uint32_t* U32Array(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* len) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a Uint32Array");
  }
  auto a = info[i].As<Napi::Uint32Array>();
  *len = a.ElementLength();
  return a.Data();
}

// maglevFill(table, offset, skip, turns, ids): fills `table` (all of it, its length the size).
// Per backend, in turn order: its walk's first slot, its step, its turns per round, the value
// written into its slots. Every skip must be coprime with the size (the walk visits every slot:
// a prime size does that for any skip), or the walk of a full bitset would never end.
Napi::Value MaglevFill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t size = 0, n = 0, len = 0;
  uint32_t* table = U32Array(info, 0, "table", &size);
  const uint32_t* offset = U32Array(info, 1, "offset", &n);
  Walks w;
  w.skip = U32Array(info, 2, "skip", &len);
  if (len != n) throw Napi::RangeError::New(env, "skip must have one entry per backend");
  w.turns = U32Array(info, 3, "turns", &len);
  if (len != n) throw Napi::RangeError::New(env, "turns must have one entry per backend");
  w.ids = U32Array(info, 4, "ids", &len);
  if (len != n) throw Napi::RangeError::New(env, "ids must have one entry per backend");
  if (n == 0 || size < 2 || size > (1u << 30)) throw Napi::RangeError::New(env, "a Maglev fill needs backends and a table of 2 to 2^30 slots");
  w.n = static_cast<uint32_t>(n);
  w.pos.resize(n);
  w.back.resize(n);
  for (size_t b = 0; b < n; b++) {
    if (offset[b] >= size) throw Napi::RangeError::New(env, "offset " + std::to_string(b) + " is past the table");
    if (w.skip[b] == 0 || w.skip[b] >= size || Gcd(w.skip[b], size) != 1) {
      throw Napi::RangeError::New(env, "skip " + std::to_string(b) + " must be coprime with the table size");
    }
    if (w.turns[b] == 0) throw Napi::RangeError::New(env, "turns " + std::to_string(b) + " must be at least 1");
    w.pos[b] = static_cast<int32_t>(offset[b]);
    w.back[b] = static_cast<int32_t>(w.skip[b]) - static_cast<int32_t>(size);
  }
  Fill(table, static_cast<int32_t>(size), w);
  return env.Undefined();
}

}  // namespace

void InitMaglev(Napi::Env env, Napi::Object exports) {
  exports.Set("maglevFill", Napi::Function::New(env, MaglevFill, "maglevFill"));
}

}  // namespace pw
